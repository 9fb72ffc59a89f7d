"""Instrument definitions as data: one JSON file per instrument, validated when loaded.

An installer who holds a licence (EQ-5D, full ODI wording) adds or replaces a file in a
directory named by ``PROLO_INSTRUMENTS_DIR``; the scoring rules are named in the file.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RULES = ("single", "percent_of_max", "count_true", "sum_mean_imputed")


class Option(BaseModel):
    value: int
    label: str


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    label: str
    kind: Literal["integer", "boolean", "choice"]
    min: int | None = None
    max: int | None = None
    options: list[Option] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> Item:
        if self.kind == "integer" and (self.min is None or self.max is None):
            raise ValueError(f"item {self.id}: an integer item needs min and max")
        if self.kind == "choice" and not self.options:
            raise ValueError(f"item {self.id}: a choice item needs options")
        return self

    def allowed(self) -> str:
        if self.kind == "integer":
            return f"a whole number {self.min}–{self.max}"
        if self.kind == "boolean":
            return "true or false"
        return "one of " + ", ".join(str(o.value) for o in self.options)


class Scoring(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: Literal["single", "percent_of_max", "count_true", "sum_mean_imputed"]
    item_max: int | None = None
    max_missing: int = 0
    multiple_ticks: Literal["higher", "reject"] = "reject"
    percent_factor: float | None = None


class ImportantChange(BaseModel):
    label: str
    source: str
    relative: float | None = None
    absolute: float | None = None
    absolute_raw: float | None = None
    at_most: int | None = None


class Band(BaseModel):
    low: float
    high: float
    label: str
    on: Literal["score", "raw"] = "score"


class Instrument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    version: str
    recall: str
    source: str
    licence: str
    items: list[Item] = Field(min_length=1)
    scoring: Scoring
    range: tuple[float, float]
    better: Literal["lower", "higher", "none"]
    important_change: list[ImportantChange]
    bands: list[Band]

    @model_validator(mode="after")
    def _rule_fits(self) -> Instrument:
        if self.scoring.rule == "single" and len(self.items) != 1:
            raise ValueError(f"{self.code}: the 'single' rule scores exactly one item")
        if (
            self.scoring.rule in ("percent_of_max", "sum_mean_imputed")
            and not self.scoring.item_max
        ):
            raise ValueError(f"{self.code}: rule {self.scoring.rule} needs item_max")
        return self


def _bundled() -> dict[str, Instrument]:
    folder = resources.files("prolo.instruments").joinpath("definitions")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            instrument = Instrument.model_validate(json.loads(entry.read_text("utf-8")))
            found[instrument.code] = instrument
    return found


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Instrument]:
    """Every instrument: the bundled ones, then any in ``PROLO_INSTRUMENTS_DIR`` (which win)."""
    found = _bundled()
    extra = os.environ.get("PROLO_INSTRUMENTS_DIR")
    if extra:
        for path in sorted(Path(extra).glob("*.json")):
            instrument = Instrument.model_validate(json.loads(path.read_text("utf-8")))
            found[instrument.code] = instrument
    return found


def get(code: str) -> Instrument:
    """The instrument with this code (case-insensitive); KeyError names the known codes."""
    instruments = catalogue()
    found = instruments.get(code.upper())
    if found is None:
        raise KeyError(f"unknown instrument {code!r}; known: {', '.join(sorted(instruments))}")
    return found

"""The bundled randomized trials, and studies a user brings as CSV in metafor's column names.

Both loaders validate every row and raise :class:`EvidenceInputError` naming the row (data
rows counted from 1, header excluded) and the column of the first problem.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from prolo.evidence.errors import EvidenceInputError

TRIAL_COLUMNS: tuple[str, ...] = (
    "study_id",
    "first_author",
    "year",
    "citation",
    "region",
    "design",
    "comparison",
    "intervention",
    "control",
    "co_interventions",
    "outcome",
    "definition",
    "timepoint_months",
    "measure_type",
    "ai",
    "n1i",
    "ci",
    "n2i",
    "m1i",
    "sd1i",
    "m2i",
    "sd2i",
    "derived",
    "confidence",
    "source",
    "note",
)
COMPARISONS = frozenset(
    {
        "prolotherapy_alone",
        "prolotherapy_with_cointerventions",
        "active_comparator",
        "epidural_dextrose",
    }
)
MEASURE_TYPES = frozenset({"binary", "continuous", "none"})
CONFIDENCE = frozenset({"high", "medium", "low"})
LABEL_COLUMNS = ("study", "study_id", "slab", "author", "label")
STUDY_LAYOUTS: dict[str, tuple[str, ...]] = {
    "2x2": ("ai", "bi", "ci", "di"),
    "2x2n": ("ai", "n1i", "ci", "n2i"),
    "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "proportions": ("xi", "ni"),
}


@dataclass(frozen=True)
class Trial:
    """One trial outcome at one time point (one row of ``prolotherapy_trials.csv``)."""

    study_id: str
    first_author: str
    year: int
    citation: str
    region: str
    design: str
    comparison: str
    intervention: str
    control: str
    co_interventions: str
    outcome: str
    definition: str
    timepoint_months: float | None
    measure_type: str
    ai: int | None
    n1i: int | None
    ci: int | None
    n2i: int | None
    m1i: float | None
    sd1i: float | None
    m2i: float | None
    sd2i: float | None
    derived: bool
    confidence: str
    source: str
    note: str

    @property
    def label(self) -> str:
        """Short label for tables and plots, e.g. ``Ongley 1987``."""
        return f"{self.first_author.split()[0]} {self.year}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)


def _number(
    raw: str, row: int, column: str, *, integer: bool, positive: bool = False, signed: bool = False
) -> float:
    def bad(reason: str) -> EvidenceInputError:
        return EvidenceInputError(f"{reason}, got {raw!r}", row=row, column=column)

    try:
        value = float(raw)
    except ValueError:
        raise bad("expected a number") from None
    if not math.isfinite(value):
        raise bad("expected a finite number")
    if integer and value != int(value):
        raise bad("expected a whole number")
    if not signed and (value < 0 or (positive and value == 0)):
        raise bad("must be > 0" if positive else "must be >= 0")
    return value


def _opt(record: dict[str, str], column: str, row: int, **kw: bool) -> float | None:
    raw = (record.get(column) or "").strip()
    return None if raw == "" else _number(raw, row, column, **kw)


def _choice(record: dict[str, str], column: str, row: int, allowed: frozenset[str]) -> str:
    value = (record.get(column) or "").strip()
    if value not in allowed:
        options = ", ".join(sorted(allowed))
        raise EvidenceInputError(f"{value!r} is not one of {options}", row=row, column=column)
    return value


def _require(record: dict[str, str], row: int, columns: tuple[str, ...], why: str) -> None:
    for column in columns:
        if not (record.get(column) or "").strip():
            raise EvidenceInputError(f"required for {why}", row=row, column=column)


def _check_arms(trial: Trial, row: int) -> None:
    if trial.measure_type == "binary":
        for events, total in (("ai", "n1i"), ("ci", "n2i")):
            if getattr(trial, events) > getattr(trial, total):
                raise EvidenceInputError(f"more events than {total}", row=row, column=events)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def parse_trial(record: dict[str, str], row: int) -> Trial:
    """Validate one CSV record of the trials file and build a :class:`Trial`."""
    _require(record, row, ("study_id", "first_author", "year", "citation"), "every trial")
    kind = _choice(record, "measure_type", row, MEASURE_TYPES)
    if kind == "binary":
        _require(record, row, ("ai", "n1i", "ci", "n2i"), "a binary outcome")
    if kind == "continuous":
        _require(record, row, ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"), "a continuous outcome")
    counts = {c: _opt(record, c, row, integer=True) for c in ("ai", "ci")}
    sizes = {c: _opt(record, c, row, integer=True, positive=True) for c in ("n1i", "n2i")}
    means = {c: _opt(record, c, row, integer=False, signed=True) for c in ("m1i", "m2i")}
    sds = {c: _opt(record, c, row, integer=False, positive=True) for c in ("sd1i", "sd2i")}
    year = _number(record["year"].strip(), row, "year", integer=True)
    text = {c: (record.get(c) or "").strip() for c in TRIAL_COLUMNS}
    trial = Trial(
        study_id=text["study_id"],
        first_author=text["first_author"],
        year=int(year),
        citation=text["citation"],
        region=text["region"],
        design=text["design"],
        comparison=_choice(record, "comparison", row, COMPARISONS),
        intervention=text["intervention"],
        control=text["control"],
        co_interventions=text["co_interventions"],
        outcome=text["outcome"],
        definition=text["definition"],
        timepoint_months=_opt(record, "timepoint_months", row, integer=False),
        measure_type=kind,
        ai=_int(counts["ai"]),
        n1i=_int(sizes["n1i"]),
        ci=_int(counts["ci"]),
        n2i=_int(sizes["n2i"]),
        m1i=means["m1i"],
        sd1i=sds["sd1i"],
        m2i=means["m2i"],
        sd2i=sds["sd2i"],
        derived=_choice(record, "derived", row, frozenset({"yes", "no"})) == "yes",
        confidence=_choice(record, "confidence", row, CONFIDENCE),
        source=text["source"],
        note=text["note"],
    )
    _check_arms(trial, row)
    return trial


def parse_trials(text: str) -> list[Trial]:
    """Parse and validate the trials CSV text; raise on the first malformed row."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in TRIAL_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise EvidenceInputError("missing from the header", column=missing[0])
    trials = []
    for row, record in enumerate(reader, start=1):
        if None in record:
            raise EvidenceInputError("more fields than the header has", row=row)
        trials.append(parse_trial(record, row))
    return trials


@lru_cache(maxsize=1)
def bundled_trials() -> tuple[Trial, ...]:
    """The randomized trials shipped with the package (validated once, then cached)."""
    ref = resources.files("prolo.evidence").joinpath("data", "prolotherapy_trials.csv")
    try:
        return tuple(parse_trials(ref.read_text(encoding="utf-8")))
    except EvidenceInputError as exc:
        raise EvidenceInputError(f"bundled prolotherapy_trials.csv: {exc}") from exc


def select_trials(
    trials: tuple[Trial, ...] | list[Trial],
    *,
    comparison: str,
    measure_type: str = "binary",
    timepoint: float = 6.0,
    include_low_confidence: bool = False,
) -> list[Trial]:
    """Like-with-like rows to pool: one comparison, one kind of outcome, one row per study.

    Rows with ``confidence=low`` are left out unless asked for; of a study's several time
    points the one nearest ``timepoint`` months is taken (ties: the earlier).
    """
    rows = [
        t
        for t in trials
        if t.comparison == comparison
        and t.measure_type == measure_type
        and (include_low_confidence or t.confidence != "low")
    ]
    best: dict[str, Trial] = {}
    for t in rows:
        key = (abs((t.timepoint_months or 0) - timepoint), t.timepoint_months or 0)
        current = best.get(t.study_id)
        if current is None or key < (
            abs((current.timepoint_months or 0) - timepoint),
            current.timepoint_months or 0,
        ):
            best[t.study_id] = t
    return list(best.values())


@dataclass(frozen=True)
class Studies:
    """User studies: a layout (see ``STUDY_LAYOUTS``), numeric columns and labels."""

    layout: str
    columns: dict[str, list[float]]
    labels: list[str]

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.labels)


def _layout(fieldnames: list[str]) -> str:
    present = set(fieldnames)
    for name, columns in STUDY_LAYOUTS.items():
        if set(columns) <= present:
            return name
    raise EvidenceInputError(
        "no known column set; use ai,bi,ci,di or ai,n1i,ci,n2i or "
        "m1i,sd1i,n1i,m2i,sd2i,n2i or xi,ni (metafor escalc names)"
    )


def _check_study(layout: str, values: dict[str, float], row: int) -> None:
    if layout == "2x2n":
        for events, total in (("ai", "n1i"), ("ci", "n2i")):
            if values[events] > values[total]:
                raise EvidenceInputError(f"more events than {total}", row=row, column=events)
    if layout == "proportions" and values["xi"] > values["ni"]:
        raise EvidenceInputError("more events than ni", row=row, column="xi")


def parse_studies(text: str) -> Studies:
    """Parse studies from CSV text with metafor ``escalc`` column names."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    reader.fieldnames = fields
    layout = _layout(fields)
    needed = STUDY_LAYOUTS[layout]
    label_col = next((c for c in LABEL_COLUMNS if c in fields), None)
    columns: dict[str, list[float]] = {c: [] for c in needed}
    labels: list[str] = []
    for row, record in enumerate(reader, start=1):
        values: dict[str, float] = {}
        for column in needed:
            raw = (record.get(column) or "").strip()
            if raw == "":
                raise EvidenceInputError("missing value", row=row, column=column)
            integer = column in ("ai", "bi", "ci", "di", "n1i", "n2i", "xi", "ni")
            positive = column in ("n1i", "n2i", "ni", "sd1i", "sd2i")
            signed = column in ("m1i", "m2i")
            values[column] = _number(
                raw, row, column, integer=integer, positive=positive, signed=signed
            )
        _check_study(layout, values, row)
        for column in needed:
            columns[column].append(values[column])
        labels.append((record.get(label_col) or "").strip() if label_col else f"Study {row}")
    if not labels:
        raise EvidenceInputError("the file has no study rows")
    return Studies(layout, columns, labels)


def load_studies(path: str | Path) -> Studies:
    """Read and validate a studies CSV file (see :func:`parse_studies`)."""
    return parse_studies(Path(path).read_text(encoding="utf-8"))


def trial_studies(trials: list[Trial], measure_type: str) -> Studies:
    """The bundled trials as :class:`Studies` (2x2 with totals, or means)."""
    if measure_type == "binary":
        cols = {c: [float(getattr(t, c)) for t in trials] for c in STUDY_LAYOUTS["2x2n"]}
        return Studies("2x2n", cols, [t.label for t in trials])
    cols = {c: [float(getattr(t, c)) for t in trials] for c in STUDY_LAYOUTS["means"]}
    return Studies("means", cols, [t.label for t in trials])

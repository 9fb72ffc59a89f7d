"""Exact scoring by the instruments' published rules, missing items included.

Sources for each rule: ``../shared/reference/instruments.md`` (Fairbank & Pynsent 2000 for ODI,
Roland & Morris 1983 for RMDQ, Vernon & Mior 1991 / Vernon 2008 for NDI, IMMPACT for NRS, NINDS
for PGIC). Every answer is a value or an explicit code; ``None`` means missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prolo.instruments.definitions import Instrument, Item, get

CODES = ("not_asked", "missing", "refused")
Answer = int | float | bool | str | list[int] | None


class AnswerError(ValueError):
    """An answer that is out of range or malformed; names the item and says why."""

    def __init__(self, instrument: str, position: int, item_id: str, reason: str) -> None:
        self.instrument, self.position, self.item_id, self.reason = (
            instrument,
            position,
            item_id,
            reason,
        )
        super().__init__(f"{instrument} item {position} ({item_id}): {reason}")


@dataclass(frozen=True)
class Score:
    instrument: str
    score: float | None
    scorable: bool
    raw: float | None = None
    items_answered: int = 0
    items_missing: int = 0
    flags: tuple[str, ...] = field(default_factory=tuple)
    band: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "score": self.score,
            "scorable": self.scorable,
            "raw": self.raw,
            "items_answered": self.items_answered,
            "items_missing": self.items_missing,
            "flags": list(self.flags),
            "band": self.band,
        }


def normalise(instrument: Instrument, answers: Sequence[Answer]) -> list[int | bool | str]:
    """Check every answer against its item; return values, with codes for missing ones."""
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise AnswerError(instrument.code, 0, "answers", "expected a list of item answers")
    if len(answers) != len(instrument.items):
        raise AnswerError(
            instrument.code,
            0,
            "answers",
            f"expected {len(instrument.items)} answers, got {len(answers)}",
        )
    return [
        _one(instrument, n, item, a)
        for n, (item, a) in enumerate(zip(instrument.items, answers, strict=True), start=1)
    ]


def _one(instrument: Instrument, position: int, item: Item, answer: Answer) -> int | bool | str:
    def bad(reason: str) -> AnswerError:
        return AnswerError(instrument.code, position, item.id, reason)

    if answer is None:
        return "missing"
    if isinstance(answer, str):
        if answer in CODES:
            return answer
        raise bad(f"{answer!r} is not {item.allowed()} nor one of {', '.join(CODES)}")
    if item.kind == "boolean":
        if isinstance(answer, bool):
            return answer
        raise bad(f"{answer!r} is not true or false")
    if isinstance(answer, list):
        return _two_ticks(instrument, item, answer, bad)
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        raise bad(f"{answer!r} is not {item.allowed()}")
    if isinstance(answer, float) and not answer.is_integer():
        raise bad(f"{answer!r} is not a whole number")
    value = int(answer)
    if item.kind == "integer":
        assert item.min is not None and item.max is not None
        if not item.min <= value <= item.max:
            raise bad(f"{value} is outside {item.min}–{item.max}")
    elif value not in {o.value for o in item.options}:
        raise bad(f"{value} is not {item.allowed()}")
    return value


def _two_ticks(instrument: Instrument, item: Item, answer: list[Any], bad: Any) -> int:
    """Two boxes ticked in one ODI section: the higher counts (Fairbank & Pynsent 2000)."""
    if instrument.scoring.multiple_ticks != "higher" or not answer:
        raise bad(f"{answer!r}: give one answer")
    values = [_one(instrument, 0, item, v) for v in answer]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise bad(f"{answer!r}: every ticked box must be a number")
    return max(int(v) for v in values)


def score(code: str, answers: Sequence[Answer]) -> Score:
    """Score answers (in item order) by the instrument's published rule."""
    instrument = get(code)
    values = normalise(instrument, answers)
    rule = instrument.scoring.rule
    if rule == "single":
        result = _single(instrument, values)
    elif rule == "percent_of_max":
        result = _percent_of_max(instrument, values)
    elif rule == "count_true":
        result = _count_true(instrument, values)
    else:
        result = _sum_mean_imputed(instrument, values)
    return _banded(instrument, result)


def _answered(values: list[int | bool | str]) -> list[int]:
    return [int(v) for v in values if not isinstance(v, str)]


def _single(instrument: Instrument, values: list[int | bool | str]) -> Score:
    answered = _answered(values)
    if not answered:
        return Score(instrument.code, None, False, items_missing=1)
    return Score(instrument.code, float(answered[0]), True, float(answered[0]), 1, 0)


def _percent_of_max(instrument: Instrument, values: list[int | bool | str]) -> Score:
    """ODI: sum ÷ (5 × sections answered) × 100; a missing section reduces the denominator."""
    answered = _answered(values)
    missing = len(values) - len(answered)
    if missing > instrument.scoring.max_missing or not answered:
        return Score(instrument.code, None, False, None, len(answered), missing)
    item_max = instrument.scoring.item_max
    assert item_max is not None
    total = sum(answered)
    percent = total / (item_max * len(answered)) * 100
    flags = ("missing_items",) if missing else ()
    return Score(instrument.code, percent, True, float(total), len(answered), missing, flags)


def _count_true(instrument: Instrument, values: list[int | bool | str]) -> Score:
    """RMDQ: count of ticked statements; an explicit missing/refused counts as "no", flagged."""
    explicit = sum(isinstance(v, str) for v in values)
    ticked = sum(v is True for v in values)
    if explicit > instrument.scoring.max_missing:
        return Score(instrument.code, None, False, None, len(values) - explicit, explicit)
    flags = ("missing_items_counted_as_no",) if explicit else ()
    return Score(
        instrument.code, float(ticked), True, float(ticked), len(values) - explicit, explicit, flags
    )


def _sum_mean_imputed(instrument: Instrument, values: list[int | bool | str]) -> Score:
    """NDI: a missing item takes the mean of the answered ones (Vernon); raw 0–50, percent ×2."""
    answered = _answered(values)
    missing = len(values) - len(answered)
    if missing > instrument.scoring.max_missing or not answered:
        return Score(instrument.code, None, False, None, len(answered), missing)
    raw = sum(answered) * len(values) / len(answered)
    factor = instrument.scoring.percent_factor or 1.0
    flags = ("missing_items_imputed",) if missing else ()
    return Score(instrument.code, raw * factor, True, raw, len(answered), missing, flags)


def _banded(instrument: Instrument, result: Score) -> Score:
    if result.score is None:
        return result
    # Bands are listed in order; a score belongs to the first band whose upper bound it does
    # not pass, so that imputed, non-integer scores (NDI raw 4.5) still find their band.
    for band in instrument.bands:
        value = result.raw if band.on == "raw" else result.score
        if value is not None and value <= band.high:
            return Score(**{**result.__dict__, "band": band.label})
    return result

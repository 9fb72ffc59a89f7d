"""Named, pre-specified success definitions (DESIGN §5).

``pain50@6m``: back/neck NRS down ≥ 50% from baseline at 6 months; ``pain30@6m`` (≥ 30%, IMMPACT
moderate); ``odi30@6m`` / ``odi10pt@6m``; ``rmdq30@6m``; ``ndi30@6m``; ``composite@6m`` (pain ≥ 30%
and disability ≥ 30%, disability = NDI for the neck, ODI elsewhere, else whichever exists);
``pgic@6m`` (much or very much improved). Any time point of the schedule may follow the ``@``.
A relative change needs a baseline above zero: such courses are excluded and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prolo.outcomes.table import TIME_POINTS, numeric, score_column

Array = np.ndarray[Any, np.dtype[Any]]
NAME = re.compile(r"^(pain|odi|rmdq|ndi)(\d+)(pt)?@(\w+)$|^(composite|pgic)@(\w+)$")
MEASURE_OF = {"pain": "nrs_back", "odi": "odi", "rmdq": "rmdq", "ndi": "ndi"}
BASELINE_ZERO = "baseline score 0: relative change undefined"
NO_BASELINE = "no baseline assessment"


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # pain, odi, rmdq, ndi, composite, pgic
    threshold: float  # a fraction (relative) or points (absolute)
    absolute: bool
    time_point: str

    @property
    def measures(self) -> tuple[str, ...]:
        if self.kind == "composite":
            return ("nrs_back", "odi", "ndi")
        if self.kind == "pgic":
            return ("pgic", "nrs_back")
        return (MEASURE_OF[self.kind],)

    def describe(self) -> str:
        if self.kind == "pgic":
            return f"global impression 'much' or 'very much improved' at {self.time_point}"
        if self.kind == "composite":
            return f"pain and disability both down ≥ 30% from baseline at {self.time_point}"
        size = f"{self.threshold:g} points" if self.absolute else f"{self.threshold:.0%}"
        return (
            f"{self.kind.upper() if self.kind != 'pain' else 'pain NRS'} down ≥ {size} "
            f"from baseline at {self.time_point}"
        )


def parse(name: str) -> Definition:
    """``pain50@6m`` → Definition; a clear error for anything else."""
    match = NAME.match(name.strip())
    if not match:
        raise ValueError(
            f"{name!r} is not a success definition: use e.g. pain50@6m, pain30@6m, odi30@6m, "
            "odi10pt@6m, rmdq30@6m, ndi30@6m, composite@6m, pgic@6m"
        )
    if match.group(5):
        kind, point = match.group(5), match.group(6)
        definition = Definition(name, kind, 0.3 if kind == "composite" else 2, False, point)
    else:
        kind, number, points, point = (
            match.group(1),
            int(match.group(2)),
            match.group(3),
            match.group(4),
        )
        threshold = float(number) if points else number / 100
        definition = Definition(name, kind, threshold, bool(points), point)
    if definition.time_point not in TIME_POINTS[1:]:
        raise ValueError(f"{name!r}: the time point must be one of {', '.join(TIME_POINTS[1:])}")
    return definition


@dataclass(frozen=True)
class Evaluation:
    """Per course: evaluable, why not, followed at the time point, and success (NaN if not)."""

    definition: Definition
    evaluable: Array
    excluded_reason: Array
    observed: Array
    success: Array

    def counts(self) -> dict[str, int]:
        reasons = pd.Series(self.excluded_reason[self.excluded_reason != ""]).value_counts()
        return {
            "courses": len(self.evaluable),
            "evaluable": int(self.evaluable.sum()),
            "observed": int((self.evaluable & self.observed).sum()),
            "successes": int(np.nansum(self.success[self.evaluable & self.observed])),
            **{f"excluded: {k}": int(v) for k, v in reasons.items()},
        }


def improvement(definition: Definition, base: Array, follow: Array) -> tuple[Array, Array, Array]:
    """(evaluable, excluded reason, success) for one measure: relative or absolute decrease."""
    has_base = ~np.isnan(base)
    reason = np.where(has_base, "", NO_BASELINE).astype(object)
    if definition.absolute:
        evaluable = has_base
        change = base - follow
        success = np.where(np.isnan(follow), np.nan, (change >= definition.threshold).astype(float))
    else:
        zero = has_base & (base <= 0)
        reason[zero] = BASELINE_ZERO
        evaluable = has_base & ~zero
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = (base - follow) / base
        # Tolerance so that 8 → 5.6 (exactly 30% by hand) is not lost to binary rounding.
        success = np.where(
            np.isnan(follow), np.nan, (relative >= definition.threshold - 1e-12).astype(float)
        )
    return evaluable, reason, success


def evaluate(definition: Definition | str, table: pd.DataFrame) -> Evaluation:
    """Apply a definition to every course of the table (vectorised, no per-course loop)."""
    d = parse(definition) if isinstance(definition, str) else definition
    point = d.time_point
    if d.kind == "pgic":
        base = numeric(table, score_column("nrs_back", "baseline"))
        evaluable = ~np.isnan(base)
        reason = np.where(evaluable, "", NO_BASELINE).astype(object)
        follow = numeric(table, score_column("pgic", point))
        success = np.where(np.isnan(follow), np.nan, (follow <= d.threshold).astype(float))
    elif d.kind == "composite":
        evaluable, reason, success = _composite(d, table)
    else:
        measure = MEASURE_OF[d.kind]
        base = numeric(table, score_column(measure, "baseline"))
        follow = numeric(table, score_column(measure, point))
        evaluable, reason, success = improvement(d, base, follow)
    observed = evaluable & ~np.isnan(success)
    success = np.where(evaluable, success, np.nan)
    return Evaluation(d, evaluable, reason, observed, success)


def disability_columns(table: pd.DataFrame, point: str) -> tuple[Array, Array]:
    """Disability at baseline and at ``point``: NDI for cervical courses, ODI elsewhere; when the
    preferred one is absent, whichever exists."""
    cervical = (
        (table["region"] == "cervical").to_numpy()
        if "region" in table
        else np.zeros(len(table), bool)
    )
    odi = (
        numeric(table, score_column("odi", "baseline")),
        numeric(table, score_column("odi", point)),
    )
    ndi = (
        numeric(table, score_column("ndi", "baseline")),
        numeric(table, score_column("ndi", point)),
    )
    first = [np.where(cervical, n, o) for o, n in zip(odi, ndi, strict=True)]
    second = [np.where(cervical, o, n) for o, n in zip(odi, ndi, strict=True)]
    use_second = np.isnan(first[0]) & ~np.isnan(second[0])
    return np.where(use_second, second[0], first[0]), np.where(use_second, second[1], first[1])


def _composite(d: Definition, table: pd.DataFrame) -> tuple[Array, Array, Array]:
    pain = Definition(d.name, "pain", 0.3, False, d.time_point)
    disability = Definition(d.name, "odi", 0.3, False, d.time_point)
    p_eval, p_reason, p_success = improvement(
        pain,
        numeric(table, score_column("nrs_back", "baseline")),
        numeric(table, score_column("nrs_back", d.time_point)),
    )
    base, follow = disability_columns(table, d.time_point)
    d_eval, d_reason, d_success = improvement(disability, base, follow)
    evaluable = p_eval & d_eval
    reason = np.where(
        p_reason != "",
        "pain: " + p_reason.astype(str),
        np.where(d_reason != "", "disability: " + d_reason.astype(str), ""),
    ).astype(object)
    both = np.where(np.isnan(p_success) | np.isnan(d_success), np.nan, p_success * d_success)
    return evaluable, reason, both

"""The figures the public pages show: the registry's own honest estimands (with completeness)
and the trials' pooled responder proportions, and one practitioner's outcome figure.

Computing the estimands reads every course, so a public figure is cached for
``CACHE_SECONDS`` per database and the page says when it was computed. Below
``MINIMUM_VOLUME`` followed courses no rate is shown at all: a handful of courses gives an
interval too wide to mean anything and could point at single patients.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from prolo.outcomes.practitioners import MINIMUM_VOLUME

PUBLIC_DEFINITION = "pain50@6m"
CACHE_SECONDS = 600.0

ESTIMAND_LABELS = {
    "completers": "Among courses followed at 6 months only (what anecdotes measure)",
    "missing_failure": "Counting every course not followed as a failure (lower bound)",
    "missing_success": "Counting every course not followed as a success (upper bound)",
    "multiple_imputation": "Missing follow-ups imputed from similar courses (missing at random)",
    "ipw": "Followed courses weighted by how likely each was to be followed",
}


@dataclass(frozen=True)
class PractitionerFigure:
    followed: int
    evaluable: int
    estimate: float | None
    ci_lb: float | None
    ci_ub: float | None
    lower_bound: float | None
    upper_bound: float | None
    description: str
    minimum_volume: int = MINIMUM_VOLUME

    @property
    def enough(self) -> bool:
        return self.followed >= self.minimum_volume


@dataclass(frozen=True)
class PublicFigures:
    """The registry's figures for one definition, or only its counts when too few."""

    definition: str
    description: str
    courses: int
    followed: int
    evaluable: int
    completeness: dict[str, Any]
    estimates: list[dict[str, Any]]
    warnings: list[str]
    trials: list[dict[str, Any]]
    computed_at: dt.datetime
    minimum_volume: int = MINIMUM_VOLUME
    caveat: str = ""
    practitioners: dict[int, PractitionerFigure] = field(default_factory=dict)

    def practitioner(self, practitioner_id: int) -> PractitionerFigure:
        """The practitioner's figure; one with no course yet has none followed."""
        none = PractitionerFigure(0, 0, None, None, None, None, None, self.description)
        return self.practitioners.get(practitioner_id, none)

    @property
    def enough(self) -> bool:
        return self.followed >= self.minimum_volume


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict[str, tuple[float, PublicFigures]] = field(default_factory=dict)
    refreshing: set[str] = field(default_factory=set)


_cache = _Cache()


def clear_cache() -> None:
    with _cache.lock:
        _cache.entries.clear()
        _cache.refreshing.clear()


@functools.cache
def trial_rates() -> list[dict[str, Any]]:
    """The trials' prolotherapy and control arms, pooled separately (responders at ~6 months)."""
    from prolo.evidence.registry_beside_trials import trial_arm_rates

    return [
        {
            "label": rate.label,
            "estimate": rate.estimate,
            "ci_lb": rate.ci_lb,
            "ci_ub": rate.ci_ub,
            "detail": rate.detail,
        }
        for rate in trial_arm_rates()
    ]


@functools.cache
def pooled_odds_ratios() -> list[dict[str, Any]]:
    """Each comparison's pooled odds ratio of responding (~6 months, random effects, REML)."""
    import math

    from prolo.evidence.errors import EvidenceInputError
    from prolo.evidence.pooling import pool_bundled

    rows = []
    for comparison in ("prolotherapy_with_cointerventions", "prolotherapy_alone"):
        try:
            pooled = pool_bundled(comparison=comparison, outcome="binary", measure="OR")
        except EvidenceInputError:
            continue
        fit: Any = pooled.fit
        rows.append(
            {
                "comparison": comparison.replace("_", " "),
                "trials": ", ".join(pooled.labels),
                "k": len(pooled.labels),
                "odds_ratio": math.exp(fit.estimate_),
                "ci_lb": math.exp(fit.ci_lb_),
                "ci_ub": math.exp(fit.ci_ub_),
            }
        )
    return rows


def compute(url: str, definition: str = PUBLIC_DEFINITION) -> PublicFigures:
    """The registry's estimands over every site, without a cache."""
    from prolo.evidence.registry_beside_trials import CAVEAT
    from prolo.outcomes.definitions import evaluate, parse
    from prolo.outcomes.estimands import estimand_table
    from prolo.outcomes.extract import course_table

    parsed = parse(definition)
    table = course_table(url, measures=sorted(parsed.measures)).to_pandas()
    # 10 imputations (as the demo's report): the figure is public, cached, and must not keep
    # its first visitor waiting longer than it has to
    result = estimand_table(table, parsed, imputations=10, with_models=len(table) > 0)
    followed = int(result.completeness["followed"])
    estimates = [
        {**e.as_dict(), "label": ESTIMAND_LABELS.get(e.estimand, e.estimand)}
        for e in result.estimates
    ]
    return PublicFigures(
        definition=result.definition,
        description=result.description,
        courses=len(table),
        followed=followed,
        evaluable=int(result.completeness["evaluable"]),
        completeness=result.completeness,
        estimates=estimates if followed >= MINIMUM_VOLUME else [],
        warnings=result.warnings,
        trials=trial_rates(),
        computed_at=dt.datetime.now(dt.UTC),
        caveat=CAVEAT,
        practitioners=practitioner_figures(table, evaluate(parsed, table)),
    )


def _refresh(url: str) -> PublicFigures:
    started = time.monotonic()
    try:
        figures = compute(url)
        with _cache.lock:
            _cache.entries[url] = (started, figures)
        return figures
    finally:
        with _cache.lock:
            _cache.refreshing.discard(url)


def _wait_for(url: str) -> PublicFigures:
    """The figures another thread is computing now (or our own, should that thread fail)."""
    while True:
        with _cache.lock:
            hit = _cache.entries.get(url)
            running = url in _cache.refreshing
        if hit is not None:
            return hit[1]
        if not running:
            return compute(url)
        time.sleep(0.05)


def registry_figures(
    url: str, *, max_age: float = CACHE_SECONDS, wait: bool = False
) -> PublicFigures | None:
    """The cached figures of the database at ``url``, or None while the first computation runs
    (unless ``wait``). No visitor waits for them: a missing or stale entry (older than
    ``max_age``) is recomputed by one background thread while the page says so, or shows the
    stale figures with the time they were computed."""
    with _cache.lock:
        hit = _cache.entries.get(url)
        stale = hit is None or time.monotonic() - hit[0] >= max_age
        start = stale and url not in _cache.refreshing
        if start:
            _cache.refreshing.add(url)
    if hit is None and wait:
        return _refresh(url) if start else _wait_for(url)
    if start:
        threading.Thread(target=_refresh, args=(url,), daemon=True).start()
    return hit[1] if hit is not None else None


def practitioner_figures(table: Any, evaluation: Any) -> dict[int, PractitionerFigure]:
    """Per practitioner: success among followed courses with its 95% (Wilson) interval and the
    two bounds for the courses not followed — withheld below the minimum volume of followed
    courses, so that a handful of patients never makes a public figure."""
    import numpy as np
    import pandas as pd

    from prolo.outcomes.intervals import wilson

    if len(table) == 0:
        return {}
    evaluable = np.asarray(evaluation.evaluable, dtype=bool)
    followed = evaluable & np.asarray(evaluation.observed, dtype=bool)
    success = np.where(followed, np.nan_to_num(np.asarray(evaluation.success, dtype=float)), 0.0)
    frame = pd.DataFrame(
        {
            "practitioner_id": table["practitioner_id"].to_numpy(),
            "evaluable": evaluable,
            "followed": followed,
            "success": success,
        }
    )
    result = {}
    sums = frame.groupby("practitioner_id").sum()
    counts = (sums[c].tolist() for c in ("evaluable", "followed", "success"))
    columns = [sums.index.tolist(), *counts]
    for practitioner_id, evaluable_n, followed_n, successes in zip(*columns, strict=True):
        n, seen, won = int(evaluable_n), int(followed_n), float(successes)
        enough = seen >= MINIMUM_VOLUME
        low, high = wilson(won, seen) if enough else (None, None)
        result[int(practitioner_id)] = PractitionerFigure(
            followed=seen,
            evaluable=n,
            estimate=won / seen if enough else None,
            ci_lb=low,
            ci_ub=high,
            lower_bound=won / n if enough else None,
            upper_bound=(won + n - seen) / n if enough else None,
            description=evaluation.definition.describe(),
        )
    return result

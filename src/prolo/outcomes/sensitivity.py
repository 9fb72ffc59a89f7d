"""Sensitivity to missing-not-at-random: delta-adjusted multiple imputation and the tipping point.

Non-responders' outcomes are imputed under missing-at-random (``imputation``), then shifted by
δ: on the score scale (δ points worse on the definition's measure — the pattern-mixture "δ
adjustment" of van Buuren, Flexible Imputation of Missing Data, 2018, §9.2; Carpenter & Kenward,
Multiple Imputation and its Application, 2013, ch. 10) for single-measure definitions, or on the
log-odds of success (composite and global-impression definitions, whose success is not one
score). Each δ gives m completed data sets pooled by Rubin's rules; the same imputations are
reused along the grid so that the curve is smooth in δ.

The tipping point is the δ at which the interval's upper end falls below the claimed band's
lower end: beyond it the data rule the claim out. When the interval is already below the band at
δ = 0, it is the δ (negative: non-responders doing *better* than similar responders) needed for
the claim to come back within reach.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from prolo.outcomes import imputation
from prolo.outcomes.definitions import Definition, Evaluation, evaluate
from prolo.outcomes.intervals import expit, logit, rubin
from prolo.outcomes.table import numeric, score_column

Array = np.ndarray[Any, np.dtype[Any]]
SCALE_NAMES = {
    "nrs_back": "pain scale (0–10)",
    "odi": "Oswestry disability index (0–100)",
    "rmdq": "Roland–Morris questionnaire (0–24)",
    "ndi": "neck disability index",
}
# A grid step per measure: half an NRS point and the same share of the other scales' ranges.
GRID_STEP = {"nrs_back": 0.5, "odi": 5.0, "rmdq": 1.0, "ndi": 5.0}
GRID_STEPS = 8  # δ from −8 steps to +8 steps (±4 NRS points)
LOG_ODDS_GRID = tuple(float(x) for x in np.arange(-2.0, 2.01, 0.5))


@dataclass
class Sensitivity:
    definition: str
    scale: str  # "score" or "log_odds"
    grid: list[dict[str, float | None]]
    tipping_point: dict[str, Any]
    measure: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Exactly the report's interface: definition, scale, grid, tipping_point."""
        return {
            "definition": self.definition,
            "scale": self.scale,
            "grid": self.grid,
            "tipping_point": self.tipping_point,
        }


def default_grid(d: Definition) -> tuple[str, list[float]]:
    if d.kind in ("composite", "pgic"):
        return "log_odds", list(LOG_ODDS_GRID)
    step = GRID_STEP[d.measures[0]]
    return "score", [step * k for k in range(-GRID_STEPS, GRID_STEPS + 1)]


def _pool(p_values: list[float], n: int) -> tuple[float, float, float]:
    q, u = [], []
    for p in p_values:
        p = float(np.clip(p, 0.5 / (n + 1), 1 - 0.5 / (n + 1)))
        q.append(logit(p))
        u.append(1 / (n * p * (1 - p)))
    centre, _, _, half = rubin(q, u, complete_df=n - 1)
    return expit(centre), expit(centre - half), expit(centre + half)


def _score_curves(
    d: Definition, frame: pd.DataFrame, grid: list[float], m: int, rng: np.random.Generator
) -> list[list[float]]:
    """Success share per imputation (rows) and δ (columns), δ points worse on the score."""
    from prolo.outcomes.estimands import _target_model

    measure = d.measures[0]
    column = score_column(measure, d.time_point)
    values = numeric(frame, column)
    missing = np.isnan(values)
    top = float(
        np.nanmax(np.concatenate([values, numeric(frame, score_column(measure, "baseline"))]))
    )
    # Only the columns the definition reads: assigning into the whole table on every δ would
    # copy it m × len(grid) times.
    slim = frame[[c for c in (column, score_column(measure, "baseline")) if c in frame.columns]]
    model = _target_model(frame, measure, d.time_point, values)
    curves = []
    for _ in range(m):
        filled = model.draw(rng)
        row = []
        for delta in grid:
            shifted = np.where(missing, np.clip(filled + delta, 0, top), filled)
            success = evaluate(d, slim.assign(**{column: shifted})).success
            row.append(float(np.nanmean(success)))
        curves.append(row)
    return curves


def _log_odds_curves(
    d: Definition,
    frame: pd.DataFrame,
    evaluation: Evaluation,
    grid: list[float],
    m: int,
    rng: np.random.Generator,
) -> list[list[float]]:
    """Success share per imputation and δ: a logistic model of success fitted on the
    responders, its coefficients drawn from their approximate posterior, the log-odds of each
    non-responder shifted by −δ (δ > 0: worse), the outcome drawn with common random numbers."""
    import statsmodels.api as sm

    observed = evaluation.observed
    success = evaluation.success
    x = imputation.covariates(frame, "nrs_back", d.time_point)
    x = imputation.informative(np.column_stack([x, imputation.practitioner_effect(frame, success)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GLM(success[observed], x[observed], family=sm.families.Binomial()).fit()
    params = np.asarray(model.params)
    cov = np.asarray(model.cov_params())
    missing = ~observed
    curves = []
    for _ in range(m):
        beta = rng.multivariate_normal(params, cov, check_valid="ignore")
        eta = x[missing] @ beta
        u = rng.random(int(missing.sum()))
        row = []
        for delta in grid:
            drawn = (u < special.expit(eta - delta)).astype(float)
            row.append(float((np.sum(success[observed]) + drawn.sum()) / len(frame)))
        curves.append(row)
    return curves


def analyse(
    d: Definition,
    table: pd.DataFrame,
    *,
    claim_band: tuple[float, float],
    imputations: int = 10,
    seed: int = 20261124,
    grid: list[float] | None = None,
) -> Sensitivity | None:
    """The δ grid and tipping point for ``d``; None when there is nothing to impute from."""
    evaluation = evaluate(d, table)
    keep = evaluation.evaluable
    frame = table[keep].reset_index(drop=True)
    sub = evaluate(d, frame)
    n = len(frame)
    followed = int(sub.observed.sum())
    if followed < 10 or followed == n:
        return None
    scale, default = default_grid(d)
    deltas = sorted(grid if grid is not None else default)
    rng = np.random.default_rng(seed)
    if scale == "score":
        curves = _score_curves(d, frame, deltas, imputations, rng)
    else:
        curves = _log_odds_curves(d, frame, sub, deltas, imputations, rng)
    rows: list[dict[str, float | None]] = []
    for j, delta in enumerate(deltas):
        centre, low, high = _pool([c[j] for c in curves], n)
        rows.append({"delta": delta, "estimate": centre, "ci_lb": low, "ci_ub": high})
    measure = d.measures[0] if scale == "score" else None
    return Sensitivity(
        d.name, scale, rows, tipping_point(rows, claim_band, scale, measure), measure
    )


def nothing_to_adjust(d: Definition) -> Sensitivity:
    """The entry of a definition with no missing follow-up to shift (or too little data)."""
    scale, _ = default_grid(d)
    return Sensitivity(
        d.name,
        scale,
        [],
        {
            "delta": None,
            "text": "No sensitivity analysis: no missing follow-up to adjust, or fewer than 10 "
            "followed courses to impute from.",
        },
    )


def _interpolate(rows: list[dict[str, float | None]], delta: float) -> dict[str, float]:
    deltas = [float(r["delta"]) for r in rows]  # type: ignore[arg-type]
    return {
        key: float(np.interp(delta, deltas, [float(r[key]) for r in rows]))  # type: ignore[arg-type]
        for key in ("estimate", "ci_lb", "ci_ub")
    }


def _range(at: dict[str, float]) -> str:
    """'49–61%', as a clinician would write it."""
    return f"{at['ci_lb'] * 100:.0f}–{at['ci_ub']:.0%}"


def describe_delta(delta: float, scale: str, measure: str | None) -> str:
    """'did 2 points worse on the pain scale (0–10)' / 'had 1.6 times lower odds of success'."""
    size = abs(delta)
    if scale == "score":
        direction = "worse" if delta > 0 else "better"
        name = SCALE_NAMES.get(measure or "", measure or "score")
        return f"did {size:.2g} points {direction} on the {name}"
    direction = "lower" if delta > 0 else "higher"
    return f"had {math.exp(size):.2g} times {direction} odds of success"


def tipping_point(
    rows: list[dict[str, float | None]],
    band: tuple[float, float],
    scale: str,
    measure: str | None,
) -> dict[str, Any]:
    """The δ where the interval's upper end crosses the band's lower end, said in words."""
    low_end = band[0]
    who = "patients who stopped answering"
    than = "than similar patients who answered"
    above = [float(r["ci_ub"]) >= low_end for r in rows]  # type: ignore[arg-type]
    deltas = [float(r["delta"]) for r in rows]  # type: ignore[arg-type]
    claim = f"the claimed {band[0] * 100:.0f}–{band[1]:.0%}"
    if all(above):
        edge = deltas[-1]
        at = _interpolate(rows, edge)
        return {
            "delta": None,
            "text": f"Even if {who} {describe_delta(edge, scale, measure)} {than}, the success "
            f"rate would be {at['estimate']:.0%} ({_range(at)}): "
            f"{claim} cannot be ruled out within the range studied.",
        }
    if not any(above):
        edge = deltas[0]
        at = _interpolate(rows, edge)
        return {
            "delta": None,
            "text": f"Even if {who} {describe_delta(edge, scale, measure)} {than}, the success "
            f"rate would be {at['estimate']:.0%} ({_range(at)}): "
            f"below {claim} throughout the range studied.",
        }
    crossing = next(j for j in range(1, len(rows)) if above[j - 1] != above[j])
    d0, d1 = deltas[crossing - 1], deltas[crossing]
    u0, u1 = float(rows[crossing - 1]["ci_ub"]), float(rows[crossing]["ci_ub"])  # type: ignore[arg-type]
    delta = d0 + (low_end - u0) * (d1 - d0) / (u1 - u0) if u1 != u0 else d1
    at = _interpolate(rows, delta)
    at_zero = _interpolate(rows, 0.0)
    if delta == 0 or abs(delta) < 1e-9:
        words = f"if {who} did no worse {than}"
    else:
        words = f"if {who} {describe_delta(delta, scale, measure)} {than}"
    verdict = (
        f"{claim} would be ruled out"
        if at_zero["ci_ub"] >= low_end
        else f"{claim} would only just come within reach"
    )
    return {
        "delta": round(delta, 4),
        "text": f"Tipping point: {words}, the success rate would be {at['estimate']:.0%} "
        f"({_range(at)}) and {verdict}.",
    }

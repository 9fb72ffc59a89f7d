"""Double sampling: responders plus a traced random sample of the non-responders (DESIGN §5).

For each time point the registry draws a random sample of the courses whose questionnaire was
missed (``followup.tracing``) and traces them (phone, letter). Responders count once; a traced
course found counts for the non-responders it stands for: 1/π (π its sampling probability),
scaled so that the found carry the weight of all sampled (the found are taken as a random
subset of the sampled — the one assumption left). This is Frangakis & Rubin (Biometrika 2001)
and the tracing design of HIV cohorts (Geng et al., Am J Epidemiol 2015): unbiased whatever the
drop-out mechanism, as long as the traced are found.

With R responders (success share p_R), M̂ = Σ_sampled 1/π non-responders, N = R + M̂,
r = R/N and p_T the weighted success share of the found traced, the estimate is
p = r·p_R + (1 − r)·p_T with the linearised (delta-method) variance

    Var(p) = (p_R − p_T)² r(1 − r)/N + r² p_R(1 − p_R)/R + (1 − r)² Σ w²(y − p_T)² / (Σ w)²

and a Wald interval on the logit scale (as for IPW). Also reported: the share of the sampled
that was found, and the estimate if the sampled but not found had all failed.

Course-table columns (``outcomes.tracing_extract`` adds them): ``trace_sampled_{tp}`` (1 drawn,
0 eligible but not drawn, null when the course was in no draw), ``trace_probability_{tp}``
and the traced scores ``{measure}_{tp}_traced``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from prolo.outcomes.definitions import Definition, Evaluation, evaluate
from prolo.outcomes.intervals import expit, logit
from prolo.outcomes.table import numeric, score_column

Array = np.ndarray[Any, np.dtype[Any]]
ESTIMAND = "double_sampling"


def sampled_column(time_point: str) -> str:
    return f"trace_sampled_{time_point}"


def probability_column(time_point: str) -> str:
    return f"trace_probability_{time_point}"


def traced_column(measure: str, time_point: str) -> str:
    return f"{score_column(measure, time_point)}_traced"


@dataclass(frozen=True)
class DoubleSampling:
    estimate: float
    variance: float
    ci_lb: float
    ci_ub: float
    responders: int
    nonresponders: float  # Σ 1/π over the sampled: the non-responders they stand for
    sampled: int
    found: int
    found_share: float | None
    if_not_found_failed: float  # the estimate if the sampled but not found had all failed
    undrawn: int = 0  # non-responders in no draw: outside the estimate's population

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def combine(
    responder_success: Array,
    traced_success: Array,
    traced_weight: Array,
    sampled_weight: float,
    sampled: int,
    level: float = 0.95,
) -> DoubleSampling:
    """The estimator from its parts: responders' successes (0/1), the found traced courses'
    successes and weights 1/π, and Σ 1/π over all sampled (found or not)."""
    y_r = np.asarray(responder_success, dtype=float)
    y_t = np.asarray(traced_success, dtype=float)
    w_raw = np.asarray(traced_weight, dtype=float)
    if len(y_t) == 0:
        raise ValueError("no traced course was found: the double-sampling estimate needs some")
    responders = len(y_r)
    w = w_raw * sampled_weight / w_raw.sum()  # the found carry the weight of all sampled
    n = responders + sampled_weight
    r = responders / n
    p_r = float(y_r.mean()) if responders else 0.0
    p_t = float(np.sum(w * y_t) / np.sum(w))
    p = r * p_r + (1 - r) * p_t
    variance = (p_r - p_t) ** 2 * r * (1 - r) / n + (1 - r) ** 2 * float(
        np.sum(w**2 * (y_t - p_t) ** 2) / np.sum(w) ** 2
    )
    if responders:
        variance += r**2 * p_r * (1 - p_r) / responders
    z = float(stats.norm.ppf(0.5 + level / 2))
    clamped = min(max(p, 0.5 / (n + 1)), 1 - 0.5 / (n + 1))
    se_logit = math.sqrt(variance) / (clamped * (1 - clamped))
    failed = (float(y_r.sum()) + float(np.sum(w_raw * y_t))) / n
    return DoubleSampling(
        estimate=p,
        variance=variance,
        ci_lb=expit(logit(clamped) - z * se_logit),
        ci_ub=expit(logit(clamped) + z * se_logit),
        responders=responders,
        nonresponders=float(sampled_weight),
        sampled=sampled,
        found=len(y_t),
        found_share=len(y_t) / sampled if sampled else None,
        if_not_found_failed=failed,
    )


def has_tracing(table: pd.DataFrame, time_point: str) -> bool:
    column = sampled_column(time_point)
    return column in table.columns and bool((numeric(table, column) == 1).any())


def traced_view(d: Definition, table: pd.DataFrame) -> pd.DataFrame:
    """The table with each follow-up score of ``d`` replaced by its traced score."""
    columns = {
        score_column(m, d.time_point): numeric(table, traced_column(m, d.time_point))
        for m in dict.fromkeys((*d.measures, "nrs_back", "odi", "ndi"))
    }
    return table.assign(**columns)


def estimate(
    d: Definition, table: pd.DataFrame, evaluation: Evaluation, level: float = 0.95
) -> DoubleSampling | None:
    """The double-sampling estimate of ``d``, or None when nothing traced was found."""
    point = d.time_point
    if not has_tracing(table, point):
        return None
    sampled_flag = numeric(table, sampled_column(point))
    probability = numeric(table, probability_column(point))
    traced = evaluate(d, traced_view(d, table))
    evaluable = evaluation.evaluable
    responded = evaluable & evaluation.observed
    missed = evaluable & ~evaluation.observed
    drawn = missed & ~np.isnan(sampled_flag)
    sampled = drawn & (sampled_flag == 1) & (probability > 0)
    found = sampled & ~np.isnan(traced.success)
    if not found.any():
        return None
    result = combine(
        evaluation.success[responded],
        traced.success[found],
        1 / probability[found],
        float(np.sum(1 / probability[sampled])),
        int(sampled.sum()),
        level,
    )
    return DoubleSampling(**{**result.as_dict(), "undrawn": int((missed & ~drawn).sum())})

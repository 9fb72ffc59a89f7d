"""Intervals for proportions (plain and clustered) and Rubin's rules for combining multiple
imputations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

Array = np.ndarray[Any, np.dtype[Any]]


def wilson(successes: float, n: float, level: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson score interval (Wilson 1927; Newcombe, Stat Med 1998): good coverage near 0 and 1."""
    if n <= 0:
        return None, None
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def clopper_pearson(
    successes: int, n: int, level: float = 0.95
) -> tuple[float | None, float | None]:
    """Exact interval from the beta distribution (Clopper & Pearson 1934)."""
    if n <= 0:
        return None, None
    alpha = 1 - level
    low = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, n - successes + 1))
    high = (
        1.0
        if successes == n
        else float(stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    )
    return low, high


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def rubin(
    estimates: Sequence[float], variances: Sequence[float], complete_df: float, level: float = 0.95
) -> tuple[float, float, float, float]:
    """Pool m completed-data estimates (Rubin 1987) with the Barnard–Rubin (1999) degrees of
    freedom. Returns (estimate, total variance, df, half-width of the interval).

    Q̄ = mean(Q_m); Ū = mean(U_m); B = var(Q_m); T = Ū + (1 + 1/m) B;
    λ = (1 + 1/m) B / T; ν_old = (m − 1)/λ²; ν_obs = (ν_com + 1)/(ν_com + 3) ν_com (1 − λ);
    ν = ν_old ν_obs / (ν_old + ν_obs).
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = len(q)
    q_bar, u_bar = float(q.mean()), float(u.mean())
    b = float(q.var(ddof=1)) if m > 1 else 0.0
    total = u_bar + (1 + 1 / m) * b
    if b <= 0 or total <= 0:
        df = complete_df
    else:
        lam = (1 + 1 / m) * b / total
        nu_old = (m - 1) / lam**2
        nu_obs = (complete_df + 1) / (complete_df + 3) * complete_df * (1 - lam)
        df = nu_old * nu_obs / (nu_old + nu_obs)
    half = float(stats.t.ppf(0.5 + level / 2, df)) * math.sqrt(total)
    return q_bar, total, df, half


# Fewer clusters than this and a cluster-robust variance is itself too noisy to trust
# (Cameron & Miller, J Hum Resour 2015, §VI): the plain Wilson interval is kept then.
MIN_CLUSTERS = 10


@dataclass(frozen=True)
class ClusteredProportion:
    """A proportion with an interval that accounts for clustering (e.g. by practitioner)."""

    estimate: float | None
    ci_lb: float | None
    ci_ub: float | None
    design_effect: float | None  # cluster-robust variance ÷ simple-random-sampling variance
    clusters: int
    wilson_lb: float | None
    wilson_ub: float | None
    method: str


def cluster_robust_variance(y: Sequence[float] | Array, clusters: Sequence[Any] | Array) -> float:
    """Variance of the mean of ``y`` with the CR1 cluster-robust (sandwich) estimator:
    G/(G−1) · Σ_g (Σ_{i∈g} (y_i − ȳ))² / n² — the same as statsmodels' OLS on an intercept
    with ``cov_type="cluster"`` (Liang & Zeger 1986; Cameron & Miller 2015)."""
    values = np.asarray(y, dtype=float)
    n = len(values)
    if n == 0:
        return float("nan")
    residual = values - values.mean()
    codes, _ = pd.factorize(np.asarray(clusters))
    sums = np.bincount(codes, weights=residual)
    groups = len(sums)
    if groups < 2:
        return float("nan")
    return float(groups / (groups - 1) * np.sum(sums**2) / n**2)


def clustered_proportion(
    y: Sequence[float] | Array,
    clusters: Sequence[Any] | Array,
    level: float = 0.95,
    min_clusters: int = MIN_CLUSTERS,
) -> ClusteredProportion:
    """Successes ÷ n with a Wilson interval on the effective sample size n ÷ deff, where the
    design effect deff is the cluster-robust variance over the binomial one (floored at 1 so
    that clustering never narrows the interval); Kish's effective-n device, as Korn & Graubard
    (1998) do for the exact interval. With fewer than ``min_clusters`` clusters, plain Wilson.
    Written here because statsmodels gives the sandwich variance but no proportion interval
    built on it."""
    values = np.asarray(y, dtype=float)
    n = len(values)
    successes = float(values.sum())
    wilson_lb, wilson_ub = wilson(successes, n, level)
    groups = len(pd.unique(np.asarray(clusters))) if n else 0
    if n == 0:
        return ClusteredProportion(None, None, None, None, 0, None, None, "no courses")
    p = successes / n
    if groups < min_clusters:
        return ClusteredProportion(
            p,
            wilson_lb,
            wilson_ub,
            None,
            groups,
            wilson_lb,
            wilson_ub,
            f"Wilson 95% interval (only {groups} practitioners: too few for a cluster-robust "
            "variance)",
        )
    binomial = p * (1 - p) / n
    robust = cluster_robust_variance(values, clusters)
    deff = max(1.0, robust / binomial) if binomial > 0 else 1.0
    low, high = wilson(p * n / deff, n / deff, level)
    return ClusteredProportion(
        p,
        low,
        high,
        deff,
        groups,
        wilson_lb,
        wilson_ub,
        f"Wilson 95% interval on the effective sample size, cluster-robust by practitioner "
        f"({groups} practitioners, design effect {deff:.2f}; Wilson alone "
        f"{_percent(wilson_lb)}–{_percent(wilson_ub)})",
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"

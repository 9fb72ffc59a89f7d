"""Intervals for proportions and Rubin's rules for combining multiple imputations."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def wilson(successes: float, n: int, level: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson score interval (Wilson 1927; Newcombe, Stat Med 1998): good coverage near 0 and 1."""
    if n <= 0:
        return None, None
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


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

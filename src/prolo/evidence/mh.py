r"""Mantel–Haenszel equal-effects pooling of 2x2 tables, as metafor's ``rma.mh``.

With :math:`n_{1i} = a_i + b_i`, :math:`n_{2i} = c_i + d_i`, :math:`N_i = n_{1i} + n_{2i}`
(raw counts; nothing is added to zero cells):

* OR: :math:`\hat\psi = R/S`, :math:`R = \sum a_i d_i / N_i`, :math:`S = \sum b_i c_i / N_i`,
  variance of :math:`\log\hat\psi` by Robins, Breslow & Greenland (1986);
* RR: :math:`\hat\psi = \sum a_i n_{2i}/N_i \big/ \sum c_i n_{1i}/N_i`, variance by
  Greenland & Robins (1985);
* RD: :math:`\sum (a_i n_{2i} - c_i n_{1i})/N_i \big/ \sum n_{1i} n_{2i}/N_i`, variance by
  Sato, Greenland & Robins (1989).

Heterogeneity: :math:`Q = \sum (y_i - \hat\theta_{MH})^2 / v_i` over the studies' inverse-variance
effects (1/2 added to tables with a zero cell; tables without events, or with only events, in
both groups left out), :math:`I^2 = \max(0, 100 (Q - (k-1))/Q)`, :math:`H^2 = Q/(k-1)`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from prolo.evidence.effects import binary_effects
from prolo.evidence.errors import EvidenceInputError
from prolo.evidence.results import FittedMeta
from prolo.evidence.tau2 import Array


def _pooled(measure: str, a: Array, b: Array, c: Array, d: Array) -> tuple[float, float]:
    """Mantel–Haenszel estimate (analysis scale) and its standard error."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    if measure == "OR":
        p, q, r, s = (a + d) / n, (b + c) / n, a * d / n, b * c / n
        big_r, big_s = float(r.sum()), float(s.sum())
        if big_r == 0 or big_s == 0:
            return math.nan, math.nan
        var = 0.5 * (
            float((p * r).sum()) / big_r**2
            + float((p * s + q * r).sum()) / (big_r * big_s)
            + float((q * s).sum()) / big_s**2
        )
        return math.log(big_r / big_s), math.sqrt(var)
    if measure == "RR":
        big_r, big_s = float((a * n2 / n).sum()), float((c * n1 / n).sum())
        if a.sum() == 0 or c.sum() == 0:
            return math.nan, math.nan
        num = float((n1 / n * (n2 / n) * (a + c) - a / n * c).sum())
        return math.log(big_r / big_s), math.sqrt(num / (big_r * big_s))
    denom = float((n1 * (n2 / n)).sum())
    est = float((a * (n2 / n) - c * (n1 / n)).sum()) / denom
    u1, u2 = n1 / n, n2 / n
    part1 = est * float((c * u1**2 - a * u2**2 + u1 * u2 * (n2 - n1) / 2).sum())
    part2 = float((a * (n2 - c) / n + c * (n1 - a) / n).sum()) / 2
    return est, math.sqrt((part1 + part2) / denom**2)


class MantelHaenszel(FittedMeta):
    """Mantel–Haenszel pooled RR, OR or RD (an equal-effects model: ``tau2_`` is 0).

    Parameters
    ----------
    measure : {"RR", "OR", "RD"}
    level : float
        Confidence level in percent.

    Attributes (after ``fit``) are those of :class:`prolo.evidence.models.MetaAnalysis`; the
    prediction interval equals the confidence interval.
    """

    def __init__(self, measure: Literal["RR", "OR", "RD"] = "OR", *, level: float = 95.0):
        if measure not in ("RR", "OR", "RD"):
            raise EvidenceInputError(f"Mantel-Haenszel needs RR, OR or RD, not {measure!r}")
        self.measure = measure
        self.level = level
        self.method_label = "MH"

    def fit(self, ai: ArrayLike, bi: ArrayLike, ci: ArrayLike, di: ArrayLike) -> MantelHaenszel:
        """Fit on the 2x2 tables; returns ``self``."""
        a, b, c, d = (np.asarray(x, dtype=np.float64).ravel() for x in (ai, bi, ci, di))
        est, se = _pooled(self.measure, a, b, c, d)
        crit = float(stats.norm.ppf(1 - (1 - self.level / 100) / 2))
        self.k_ = int(a.size)
        self.estimate_, self.se_ = est, se
        self.ci_lb_, self.ci_ub_ = est - crit * se, est + crit * se
        self.pi_lb_, self.pi_ub_ = self.ci_lb_, self.ci_ub_
        self.pval_ = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else math.nan
        self.tau2_, self.tau_, self.tau2_se_, self.test_ = 0.0, 0.0, math.nan, "z"
        eff = binary_effects(self.measure, a, b, c, d, drop00=True)
        ok = ~np.isnan(eff.yi)
        yi, vi = eff.yi[ok], eff.vi[ok]
        self.yi_, self.vi_ = eff.yi, eff.vi
        k_yi = int(yi.size)
        self.Q_df_ = max(k_yi - 1, 0)
        if k_yi > 1:
            self.Q_ = max(0.0, float(np.sum((yi - est) ** 2 / vi)))
            self.Q_pval_ = float(stats.chi2.sf(self.Q_, k_yi - 1))
            self.I2_ = max(0.0, 100 * (self.Q_ - (k_yi - 1)) / self.Q_) if self.Q_ > 0 else 0.0
            self.H2_ = self.Q_ / (k_yi - 1)
        else:
            self.Q_, self.Q_pval_, self.I2_, self.H2_ = 0.0, 1.0, 0.0, 1.0
        return self

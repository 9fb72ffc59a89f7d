r"""Inverse-variance meta-analysis: equal-effects and random-effects models, as metafor's ``rma``.

Estimate :math:`\hat\mu = \sum w_i y_i / \sum w_i` with :math:`w_i = 1/(v_i + \hat\tau^2)`
(:math:`\hat\tau^2 = 0` for the equal-effects model) and
:math:`\mathrm{SE}(\hat\mu) = (\sum w_i)^{-1/2}`. Under Hartung–Knapp–Sidik–Jonkman the variance
is multiplied by :math:`s^2 = \sum w_i (y_i - \hat\mu)^2 / (k-1)` and tests and intervals use
the :math:`t_{k-1}` distribution.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from prolo.evidence.errors import EvidenceInputError
from prolo.evidence.results import FittedMeta
from prolo.evidence.tau2 import (
    Array,
    Tau2Estimate,
    dersimonian_laird,
    paule_mandel,
    reml,
    weighted_q,
)

Method = Literal["EE", "DL", "REML", "PM"]
METHODS: tuple[Method, ...] = ("EE", "DL", "REML", "PM")
_ESTIMATORS = {"DL": dersimonian_laird, "REML": reml, "PM": paule_mandel}


def heterogeneity(yi: Array, vi: Array) -> tuple[float, float, float]:
    r"""Cochran's Q, its p-value and the "typical" within-study variance.

    :math:`Q = \sum (y_i - \hat\mu_{EE})^2 / v_i` with a :math:`\chi^2_{k-1}` p-value, and
    :math:`\tilde v = (k-1)/(\sum w_i - \sum w_i^2/\sum w_i)` with
    :math:`w_i = 1/v_i` (Higgins & Thompson 2002), which I² and H² use.
    """
    k = yi.size
    if k < 2:
        return 0.0, 1.0, 0.0
    wi = 1 / vi
    q = max(0.0, weighted_q(yi - yi.mean(), wi))
    vt = (k - 1) / (float(np.sum(wi)) - float(np.sum(wi**2)) / float(np.sum(wi)))
    return q, float(stats.chi2.sf(q, k - 1)), vt


def validate_inputs(yi: ArrayLike, vi: ArrayLike) -> tuple[Array, Array]:
    """Float arrays of equal length, finite, with positive variances; else a clear error."""
    y = np.asarray(yi, dtype=np.float64).ravel()
    v = np.asarray(vi, dtype=np.float64).ravel()
    if y.size != v.size:
        raise EvidenceInputError(f"yi has {y.size} values but vi has {v.size}")
    if y.size == 0:
        raise EvidenceInputError("no studies to pool")
    for name, arr in (("yi", y), ("vi", v)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise EvidenceInputError("not a finite number", row=int(bad[0]) + 1, column=name)
    bad = np.flatnonzero(v <= 0)
    if bad.size:
        raise EvidenceInputError("sampling variance must be > 0", row=int(bad[0]) + 1, column="vi")
    return y, v


class MetaAnalysis(FittedMeta):
    r"""Equal-effects or random-effects meta-analysis of effects ``yi`` with variances ``vi``.

    Parameters
    ----------
    method : {"EE", "DL", "REML", "PM"}
        Equal effects, or random effects with :math:`\tau^2` by DerSimonian–Laird, restricted
        maximum likelihood or Paule–Mandel (see :mod:`prolo.evidence.tau2`).
    hksj : bool
        Hartung–Knapp–Sidik–Jonkman adjustment (metafor's ``test="knha"``).
    level : float
        Confidence level in percent.

    Attributes (after ``fit``)
    --------------------------
    estimate_, se_, ci_lb_, ci_ub_, pval_ : the pooled effect, its SE, interval and p-value.
    tau2_, tau_, tau2_se_ : between-study variance, its square root and its SE.
    Q_, Q_df_, Q_pval_ : Cochran's Q, its degrees of freedom :math:`k-1` and p-value.
    I2_, H2_ : for EE :math:`I^2 = \max(0, 100(Q-(k-1))/Q)`, :math:`H^2 = Q/(k-1)`; for RE
        :math:`I^2 = 100\hat\tau^2/(\tilde v + \hat\tau^2)`, :math:`H^2 = 1 + \hat\tau^2/\tilde v`.
    pi_lb_, pi_ub_ : prediction interval
        :math:`\hat\mu \pm c\sqrt{\mathrm{SE}^2 + \hat\tau^2}` with :math:`c` the normal
        (or, under HKSJ, :math:`t_{k-1}`) quantile.

    Examples
    --------
    >>> MetaAnalysis(method="REML").fit([0.1, 0.5, 0.3], [0.04, 0.05, 0.02]).k_
    3
    """

    def __init__(self, method: Method = "REML", *, hksj: bool = False, level: float = 95.0):
        if method not in METHODS:
            raise EvidenceInputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        self.method = method
        self.hksj = hksj
        self.level = level
        self.method_label = method + ("+HKSJ" if hksj else "")

    def fit(self, yi: ArrayLike, vi: ArrayLike) -> MetaAnalysis:
        """Fit the model; returns ``self`` with the attributes ending in ``_`` set."""
        y, v = validate_inputs(yi, vi)
        self.yi_, self.vi_ = y, v
        k = self.k_ = int(y.size)
        est = self._tau2(y, v)
        self.tau2_, self.tau2_se_ = est.tau2, est.se
        self.tau_ = math.sqrt(est.tau2)
        self.iterations_ = est.iterations
        wi = 1 / (v + est.tau2)
        self.weights_ = 100 * wi / wi.sum()
        mu = float(np.sum(wi * y) / np.sum(wi))
        var = 1 / float(np.sum(wi))
        if self.hksj and k > 1:
            rss = float(np.sum(wi * (y - mu) ** 2))
            var *= rss / (k - 1) if rss > np.finfo(float).eps else 0.0
        self._set_inference(mu, math.sqrt(var), k)
        self.Q_, self.Q_pval_, vt = heterogeneity(y, v)
        self.Q_df_ = k - 1
        self.I2_, self.H2_ = self._i2_h2(vt)
        return self

    def _tau2(self, y: Array, v: Array) -> Tau2Estimate:
        if self.method == "EE" or y.size == 1:
            return Tau2Estimate(0.0, math.nan)
        return _ESTIMATORS[self.method](y, v)

    def _set_inference(self, mu: float, se: float, k: int) -> None:
        alpha = 1 - self.level / 100
        use_t = self.hksj and k > 1
        self.test_ = "knha" if self.hksj else "z"
        dist = stats.t(df=k - 1) if use_t else stats.norm()
        crit = float(dist.ppf(1 - alpha / 2)) if (k > 1 or not self.hksj) else math.nan
        self.estimate_, self.se_ = mu, se
        self.pval_ = float(2 * dist.sf(abs(mu / se))) if se > 0 else math.nan
        self.ci_lb_, self.ci_ub_ = mu - crit * se, mu + crit * se
        half = crit * math.sqrt(se**2 + self.tau2_)
        self.pi_lb_, self.pi_ub_ = mu - half, mu + half

    def _i2_h2(self, vt: float) -> tuple[float, float]:
        k = self.k_
        if k < 2:
            return 0.0, 1.0
        if self.method == "EE":
            i2 = max(0.0, 100 * (self.Q_ - (k - 1)) / self.Q_) if self.Q_ > 0 else 0.0
            return i2, self.Q_ / (k - 1)
        return 100 * self.tau2_ / (vt + self.tau2_), self.tau2_ / vt + 1

    def leave_one_out(self) -> pd.DataFrame:
        """Refit without each study in turn (same method and test), one row per omitted study.

        Columns: ``omitted`` (1-based index), ``estimate, se, ci_lb, ci_ub, pval, Q, Q_pval,
        tau2, I2, H2, pi_lb, pi_ub``.
        """
        self._check_fitted()
        if self.k_ < 2:
            raise EvidenceInputError("leave-one-out needs at least two studies")
        rows = []
        for i in range(self.k_):
            keep = np.arange(self.k_) != i
            fit = MetaAnalysis(self.method, hksj=self.hksj, level=self.level)
            fit.fit(self.yi_[keep], self.vi_[keep])
            row = {"omitted": i + 1}
            row.update({key: fit.to_dict()[key] for key in _LOO_KEYS})
            rows.append(row)
        return pd.DataFrame(rows)


_LOO_KEYS: tuple[str, ...] = ("estimate", "se", "ci_lb", "ci_ub", "pval", "Q", "Q_pval")
_LOO_KEYS += ("tau2", "I2", "H2", "pi_lb", "pi_ub")

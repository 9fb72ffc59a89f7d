"""Effect sizes and their sampling variances, as metafor's ``escalc`` computes them by default.

Binary outcomes come as 2x2 tables (``ai, bi`` events and non-events in the treated group,
``ci, di`` in the control group), continuous outcomes as means, SDs and sizes
(``m1i, sd1i, n1i, m2i, sd2i, n2i``), single proportions as events and totals (``xi, ni``).

Zero cells: like ``escalc(add=1/2, to="only0")`` every cell of a table (or of an
``xi, ni - xi`` pair) that has at least one zero gets 1/2 added; other studies are untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, gammaln

from prolo.evidence.errors import EvidenceInputError

Measure = Literal["RR", "OR", "RD", "MD", "SMD", "PLO"]
MEASURES: tuple[Measure, ...] = ("RR", "OR", "RD", "MD", "SMD", "PLO")
BINARY_MEASURES: tuple[Measure, ...] = ("RR", "OR", "RD")
Array = NDArray[np.float64]


@dataclass(frozen=True)
class EffectSizes:
    """Observed effects ``yi`` and sampling variances ``vi`` on the analysis scale."""

    measure: Measure
    yi: Array
    vi: Array

    @property
    def k(self) -> int:
        """Number of studies."""
        return int(self.yi.size)


def _f(values: ArrayLike) -> Array:
    return np.asarray(values, dtype=np.float64)


def back_transform(measure: str) -> Callable[[Array], Array]:
    """The function from the analysis scale to the natural scale (exp, inverse logit or none)."""
    if measure in ("RR", "OR"):
        return np.exp
    if measure == "PLO":
        return lambda x: np.asarray(expit(x), dtype=np.float64)
    return lambda x: np.asarray(x, dtype=np.float64)


def measure_label(measure: str) -> str:
    """A human-readable name for a measure on its natural scale."""
    return {
        "RR": "risk ratio",
        "OR": "odds ratio",
        "RD": "risk difference",
        "MD": "mean difference",
        "SMD": "standardized mean difference (Hedges' g)",
        "PLO": "proportion",
    }[measure]


def binary_effects(
    measure: Literal["RR", "OR", "RD"],
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    *,
    add: float = 0.5,
    drop00: bool = False,
) -> EffectSizes:
    r"""Log risk ratio, log odds ratio or risk difference from 2x2 tables.

    With :math:`p_1 = a/(a+b)` and :math:`p_2 = c/(c+d)` (after the zero-cell correction):

    * RR: :math:`y = \log p_1 - \log p_2`, :math:`v = 1/a - 1/(a+b) + 1/c - 1/(c+d)`;
    * OR: :math:`y = \log\frac{p_1}{1-p_1} - \log\frac{p_2}{1-p_2}`,
      :math:`v = 1/a + 1/b + 1/c + 1/d`;
    * RD: :math:`y = p_1 - p_2`, :math:`v = p_1(1-p_1)/(a+b) + p_2(1-p_2)/(c+d)`.

    ``drop00=True`` gives NaN for tables with no events (or only events) in both groups,
    as ``escalc(drop00=TRUE)`` does (``rma.mh`` uses this for its heterogeneity test).
    """
    a, b, c, d = _f(ai).copy(), _f(bi).copy(), _f(ci).copy(), _f(di).copy()
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    for cell in (a, b, c, d):
        cell[zero] += add
    p1, p2 = a / (a + b), c / (c + d)
    if measure == "RR":
        yi = np.log(p1) - np.log(p2)
        vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    elif measure == "OR":
        yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
        vi = 1 / a + 1 / b + 1 / c + 1 / d
    elif measure == "RD":
        yi = p1 - p2
        vi = p1 * (1 - p1) / (a + b) + p2 * (1 - p2) / (c + d)
    else:
        raise EvidenceInputError(f"unknown binary measure {measure!r}")
    if drop00:
        both = ((_f(ai) == 0) & (_f(ci) == 0)) | ((_f(bi) == 0) & (_f(di) == 0))
        yi, vi = np.where(both, np.nan, yi), np.where(both, np.nan, vi)
    return EffectSizes(measure, _f(yi), _f(vi))


def hedges_correction(m: ArrayLike) -> Array:
    r"""The exact small-sample correction of Hedges' g.

    :math:`c(m) = \Gamma(m/2) / (\sqrt{m/2}\,\Gamma((m-1)/2))`.

    Computed on the log scale so that it cannot overflow for large ``m``.
    """
    mm = _f(m)
    return _f(np.exp(gammaln(mm / 2) - np.log(np.sqrt(mm / 2)) - gammaln((mm - 1) / 2)))


def continuous_effects(
    measure: Literal["MD", "SMD"],
    m1i: ArrayLike,
    sd1i: ArrayLike,
    n1i: ArrayLike,
    m2i: ArrayLike,
    sd2i: ArrayLike,
    n2i: ArrayLike,
) -> EffectSizes:
    r"""Raw mean difference or Hedges' g.

    * MD: :math:`y = \bar x_1 - \bar x_2`, :math:`v = s_1^2/n_1 + s_2^2/n_2`;
    * SMD: with :math:`m = n_1 + n_2 - 2`,
      :math:`s_p^2 = ((n_1-1)s_1^2 + (n_2-1)s_2^2)/m`, :math:`d = (\bar x_1 - \bar x_2)/s_p`,
      :math:`g = c(m)\,d` and the large-sample variance
      :math:`v = 1/n_1 + 1/n_2 + g^2 / (2(n_1+n_2))` (metafor's default ``vtype="LS"``).
    """
    x1, s1, n1, x2, s2, n2 = (_f(v) for v in (m1i, sd1i, n1i, m2i, sd2i, n2i))
    if measure == "MD":
        return EffectSizes("MD", x1 - x2, s1**2 / n1 + s2**2 / n2)
    if measure != "SMD":
        raise EvidenceInputError(f"unknown continuous measure {measure!r}")
    m = n1 + n2 - 2
    sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / m)
    g = hedges_correction(m) * (x1 - x2) / sp
    return EffectSizes("SMD", g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)))


def proportion_effects(xi: ArrayLike, ni: ArrayLike, *, add: float = 0.5) -> EffectSizes:
    r"""Logit-transformed proportions (PLO).

    With events :math:`x` and non-events :math:`m = n - x` (1/2 added to both when either
    is zero): :math:`y = \log(x/m)`, :math:`v = 1/x + 1/m`.
    """
    x = _f(xi).copy()
    m = _f(ni) - x
    zero = (x == 0) | (m == 0)
    x[zero] += add
    m[zero] += add
    return EffectSizes("PLO", np.log(x / m), 1 / x + 1 / m)


def escalc(measure: str, data: Mapping[str, ArrayLike]) -> EffectSizes:
    """Effect sizes from columns named as in metafor's ``escalc``.

    Binary measures take ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``; MD and SMD take
    ``m1i, sd1i, n1i, m2i, sd2i, n2i``; PLO takes ``xi, ni``.
    """
    if measure in BINARY_MEASURES:
        need(data, measure, ("ai", "ci"))
        if "bi" in data and "di" in data:
            bi, di = _f(data["bi"]), _f(data["di"])
        else:
            need(data, measure, ("n1i", "n2i"))
            bi = _f(data["n1i"]) - _f(data["ai"])
            di = _f(data["n2i"]) - _f(data["ci"])
        binary: Literal["RR", "OR", "RD"] = measure  # type: ignore[assignment]
        return binary_effects(binary, data["ai"], bi, data["ci"], di)
    if measure in ("MD", "SMD"):
        cols = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
        need(data, measure, cols)
        cont: Literal["MD", "SMD"] = measure  # type: ignore[assignment]
        return continuous_effects(cont, *(data[c] for c in cols))
    if measure == "PLO":
        need(data, measure, ("xi", "ni"))
        return proportion_effects(data["xi"], data["ni"])
    raise EvidenceInputError(f"unknown measure {measure!r}; use one of {', '.join(MEASURES)}")


def need(data: Mapping[str, object], measure: str, columns: tuple[str, ...]) -> None:
    """Raise an error naming the first of ``columns`` that ``data`` lacks."""
    for column in columns:
        if column not in data:
            raise EvidenceInputError(
                f"measure {measure} needs this column (have: {', '.join(data) or 'none'})",
                column=column,
            )

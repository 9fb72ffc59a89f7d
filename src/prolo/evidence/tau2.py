r"""Estimators of the between-study variance :math:`\tau^2` for the random-effects model.

The model is :math:`y_i = \mu + u_i + e_i` with :math:`u_i \sim N(0, \tau^2)` and
:math:`e_i \sim N(0, v_i)`. Every estimator follows metafor's ``rma.uni`` (3.8) step by
step — starting values, convergence rules and tolerances — so that the estimates agree
with it to many digits, and every estimate is truncated at zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

REML_THRESHOLD = 1e-5  # metafor: control$threshold
REML_MAXITER = 100  # metafor: control$maxiter
UNIROOT_TOL = float(np.finfo(float).eps) ** 0.25  # metafor: control$tol
DBL_EPSILON = float(np.finfo(float).eps)


class ConvergenceError(RuntimeError):
    """An iterative estimator did not converge."""


@dataclass(frozen=True)
class Tau2Estimate:
    """A :math:`\\tau^2` estimate with its standard error and the iterations used."""

    tau2: float
    se: float
    iterations: int = 0


def weighted_q(yi: Array, wi: Array) -> float:
    r"""Generalised Q.

    :math:`\sum w_i (y_i - \hat\mu_w)^2` with :math:`\hat\mu_w = \sum w_i y_i/\sum w_i`.
    """
    mu = float(np.sum(wi * yi) / np.sum(wi))
    return float(np.sum(wi * (yi - mu) ** 2))


def p_traces(wi: Array) -> tuple[float, float]:
    r"""Traces of :math:`P = W - W1(1'W1)^{-1}1'W` and of :math:`PP`, in closed form."""
    s1, s2, s3 = float(np.sum(wi)), float(np.sum(wi**2)), float(np.sum(wi**3))
    return s1 - s2 / s1, s2 - 2 * s3 / s1 + s2**2 / s1**2


def dersimonian_laird(yi: Array, vi: Array) -> Tau2Estimate:
    r"""DerSimonian–Laird moment estimator.

    :math:`\hat\tau^2 = \max\{0, (Q - (k-1)) / \mathrm{tr}(P)\}` with :math:`w_i = 1/v_i`,
    :math:`\mathrm{tr}(P) = \sum w_i - \sum w_i^2 / \sum w_i`; standard error
    :math:`\sqrt{(2(k-1) + 4\hat\tau^2 \mathrm{tr}P + 2\hat\tau^4 \mathrm{tr}PP)} / \mathrm{tr}P`.
    """
    k = yi.size
    wi = 1 / vi
    tr_p, tr_pp = p_traces(wi)
    tau2 = max(0.0, (weighted_q(yi, wi) - (k - 1)) / tr_p)
    se = math.sqrt((2 * (k - 1) + 4 * tau2 * tr_p + 2 * tau2**2 * tr_pp) / tr_p**2)
    return Tau2Estimate(tau2, se)


def _restricted_loglik(yi: Array, vi: Array, tau2: float) -> float:
    wi = 1 / (vi + tau2)
    k = yi.size
    return float(
        -0.5 * (k - 1) * math.log(2 * math.pi)
        - 0.5 * np.sum(np.log(vi + tau2))
        - 0.5 * math.log(float(np.sum(wi)))
        - 0.5 * weighted_q(yi, wi)
    )


def reml(yi: Array, vi: Array) -> Tau2Estimate:
    r"""Restricted maximum likelihood by Fisher scoring, as metafor iterates it.

    Start from the Hedges (moment) estimate
    :math:`\max\{0, (\sum (y_i-\bar y)^2 - (1-1/k)\sum v_i)/(k-1)\}`, then repeat
    :math:`\tau^2 \leftarrow \tau^2 + (y'PPy - \mathrm{tr}P) / \mathrm{tr}(PP)`, with
    :math:`w_i = 1/(v_i + \tau^2)` and step-halving to stay non-negative, until the change
    is at most :math:`10^{-5}` (at most 100 steps). If the restricted log-likelihood is
    higher at :math:`\tau^2=0`, zero is taken. Standard error:
    :math:`\sqrt{2/\mathrm{tr}(PP)}` (Fisher information).
    """
    k = yi.size
    y = yi - yi.mean()
    he = (float(np.sum(y**2)) - float(np.sum(vi)) * (1 - 1 / k)) / (k - 1)
    tau2, change, iterations = max(0.0, he), REML_THRESHOLD + 1, 0
    while change > REML_THRESHOLD:
        iterations += 1
        wi = 1 / (vi + tau2)
        tr_p, tr_pp = p_traces(wi)
        mu = float(np.sum(wi * y) / np.sum(wi))
        adj = (float(np.sum(wi**2 * (y - mu) ** 2)) - tr_p) / tr_pp
        while tau2 + adj < 0:
            adj /= 2
        tau2, change = tau2 + adj, abs(adj)
        if iterations > REML_MAXITER:
            raise ConvergenceError("REML Fisher scoring did not converge in 100 iterations")
    if _restricted_loglik(y, vi, 0.0) - _restricted_loglik(y, vi, tau2) > UNIROOT_TOL and (
        tau2 > REML_THRESHOLD
    ):
        tau2 = 0.0
    tau2 = max(0.0, tau2)
    _, tr_pp = p_traces(1 / (vi + tau2))
    return Tau2Estimate(tau2, math.sqrt(2 / tr_pp), iterations)


def r_mad(values: Array) -> float:
    """Median absolute deviation scaled by 1.4826, as R's ``mad``."""
    med = float(np.median(values))
    return 1.4826 * float(np.median(np.abs(values - med)))


def paule_mandel(yi: Array, vi: Array) -> Tau2Estimate:
    r"""Paule–Mandel: the :math:`\tau^2` at which the generalised Q equals its expectation.

    Solves :math:`\sum w_i(\tau^2)(y_i - \hat\mu(\tau^2))^2 = k - 1` with
    :math:`w_i = 1/(v_i+\tau^2)` on :math:`[0, \max(100, 10\,\mathrm{mad}(y)^2)]` by Brent's
    method with R's ``uniroot`` tolerance :math:`\epsilon^{1/4}` (as metafor does; 0 if the
    equation has no root above 0). Standard error: :math:`\sqrt{2k^2/(k-1)} / \sum w_i`.
    """
    k = yi.size
    y = yi - yi.mean()
    target = float(k - 1)
    upper = max(100.0, 10 * r_mad(yi) ** 2)

    def excess(t: float) -> float:
        return weighted_q(y, 1 / (vi + t)) - target

    f_lower = excess(0.0)
    if f_lower < 0:
        tau2, iterations = 0.0, 0
    else:
        f_upper = excess(upper)
        if f_upper > 0:
            raise ConvergenceError(f"Paule-Mandel: tau^2 above the search bound {upper:g}")
        tau2, iterations = zeroin(excess, 0.0, upper, f_lower, f_upper, UNIROOT_TOL, REML_MAXITER)
    wi = 1 / (vi + tau2)
    se = math.sqrt(2 * k**2 / (k - 1)) / float(np.sum(wi))
    return Tau2Estimate(max(0.0, tau2), se, iterations)


def zeroin(
    f: Callable[[float], float],
    a: float,
    b: float,
    fa: float,
    fb: float,
    tol: float,
    maxiter: int,
) -> tuple[float, int]:
    """Brent's (1973) root finder in the variant R's ``uniroot`` runs, so roots agree with R.

    Returns the root and the number of function evaluations. Combines bisection, secant
    and inverse quadratic interpolation; stops when the bracket half-width is below
    ``2 * eps * |b| + tol / 2``.
    """
    if fa == 0.0:
        return a, 0
    if fb == 0.0:
        return b, 0
    c, fc = a, fa
    for evaluation in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * DBL_EPSILON * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, evaluation
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            new_step = _interpolated_step(a, b, c, fa, fb, fc, prev_step, tol_act, new_step)
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise ConvergenceError("root finder did not converge")


def _interpolated_step(
    a: float,
    b: float,
    c: float,
    fa: float,
    fb: float,
    fc: float,
    prev_step: float,
    tol_act: float,
    bisect: float,
) -> float:
    """Secant (two points) or inverse quadratic (three points) step, if it is acceptable."""
    cb = c - b
    if a == c:
        t1 = fb / fa
        p, q = cb * t1, 1.0 - t1
    else:
        q, t1, t2 = fa / fc, fb / fc, fb / fa
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
        q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
    if p > 0:
        q = -q
    else:
        p = -p
    if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
        return p / q
    return bisect

"""The fitted-result surface shared by every meta-analysis estimator."""

from __future__ import annotations

import math
from typing import Any

RESULT_KEYS: tuple[str, ...] = (
    "k",
    "estimate",
    "se",
    "ci_lb",
    "ci_ub",
    "pval",
    "tau2",
    "I2",
    "H2",
    "Q",
    "Q_pval",
    "pi_lb",
    "pi_ub",
)


def _clean(value: Any) -> Any:
    """Plain Python numbers; NaN and infinities become ``None`` (valid JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class FittedMeta:
    """Attributes ending in ``_`` are set by ``fit``; ``to_dict`` and ``summary`` render them."""

    method_label: str = ""
    k_: int
    estimate_: float
    se_: float
    ci_lb_: float
    ci_ub_: float
    pval_: float
    tau2_: float
    tau_: float
    tau2_se_: float
    I2_: float
    H2_: float
    Q_: float
    Q_df_: int
    Q_pval_: float
    pi_lb_: float
    pi_ub_: float
    test_: str

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimate_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready values on the analysis scale.

        Keys: ``k, estimate, se, ci_lb, ci_ub, pval, tau2, I2, H2, Q, Q_pval, pi_lb, pi_ub``
        and, in addition, ``tau, tau2_se, Q_df, method, test``.
        """
        self._check_fitted()
        out = {key: _clean(getattr(self, f"{key}_")) for key in RESULT_KEYS}
        out["k"] = int(self.k_)
        out.update(
            tau=_clean(self.tau_),
            tau2_se=_clean(self.tau2_se_),
            Q_df=int(self.Q_df_),
            method=self.method_label,
            test=self.test_,
        )
        return out

    @property
    def summary(self) -> str:
        """A short plain-text table of the fitted model."""
        self._check_fitted()
        d = self.to_dict()

        def fmt(v: Any) -> str:
            return "NA" if v is None else f"{v:.4g}"

        lines = [
            f"{type(self).__name__} ({d['method']}, test={d['test']}), k = {d['k']}",
            f"  estimate {fmt(d['estimate'])}  se {fmt(d['se'])}  "
            f"95% CI [{fmt(d['ci_lb'])}, {fmt(d['ci_ub'])}]  p {fmt(d['pval'])}",
            f"  prediction interval [{fmt(d['pi_lb'])}, {fmt(d['pi_ub'])}]",
            f"  tau^2 {fmt(d['tau2'])}  tau {fmt(d['tau'])}  I^2 {fmt(d['I2'])}%  "
            f"H^2 {fmt(d['H2'])}",
            f"  Q({d['Q_df']}) = {fmt(d['Q'])}, p {fmt(d['Q_pval'])}",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        if not hasattr(self, "estimate_"):
            return f"<{type(self).__name__} (unfitted) {self.method_label}>"
        name = type(self).__name__
        return f"<{name} {self.method_label} k={self.k_} estimate={self.estimate_:.4g}>"

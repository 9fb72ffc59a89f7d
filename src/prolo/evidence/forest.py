"""Forest plots: one row per study, the pooled diamond and the prediction interval.

Ratio measures (RR, OR) are drawn on a log axis labelled in ratios, PLO in proportions;
others on their own scale. Figures are rendered with matplotlib's Agg backend (no display).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from prolo.evidence.effects import Array, back_transform, measure_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from prolo.evidence.pooling import Pooled

RATIO = ("RR", "OR")


def _figure(rows: int) -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 1.6 + 0.38 * rows), dpi=110)
    ax = fig.add_axes((0.30, 0.14, 0.44, 0.78))
    return fig, ax


def _fmt(x: float) -> str:
    return "NA" if not math.isfinite(x) else f"{x:.2f}"


def forest_figure(pooled: Pooled, *, level: float = 95.0) -> Figure:
    """Draw the forest plot of a pooled analysis and return the matplotlib figure."""
    eff, fit = pooled.effects, pooled.fit
    measure, k = eff.measure, eff.k
    crit = float(stats.norm.ppf(1 - (1 - level / 100) / 2))
    se = np.sqrt(eff.vi)
    lo, hi = eff.yi - crit * se, eff.yi + crit * se
    wi = 1 / (eff.vi + fit.tau2_)
    weights = 100 * wi / wi.sum()
    fig, ax = _figure(k + 3)
    ys = np.arange(k, 0, -1, dtype=np.float64) + 1.5
    ax.hlines(ys, lo, hi, color="black", linewidth=1)
    ax.scatter(eff.yi, ys, marker="s", s=20 + 1.2 * weights, color="#1f4e79", zorder=3)
    est, clb, cub = fit.estimate_, fit.ci_lb_, fit.ci_ub_
    ax.fill([clb, est, cub, est], [0.5, 0.8, 0.5, 0.2], color="#8b0000", zorder=3)
    if fit.tau2_ > 0 and math.isfinite(fit.pi_lb_):
        ax.hlines(0.5, fit.pi_lb_, fit.pi_ub_, color="#8b0000", linewidth=1, linestyle="--")
    null = 0.0 if measure != "PLO" else None
    if null is not None:
        ax.axvline(null, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylim(-0.2, k + 2.3)
    ax.set_yticks([])
    _label_axis(ax, measure)
    _side_text(ax, pooled, ys, lo, hi, weights)
    title = pooled.title or measure_label(measure)
    ax.set_title(f"{title}\n{fit.method_label}, k = {k}", fontsize=10)
    return fig


def _label_axis(ax: Axes, measure: str) -> None:
    if measure in RATIO:
        lo, hi = ax.get_xlim()
        ticks = [t for t in (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20) if lo <= math.log(t) <= hi]
        ax.set_xticks([math.log(t) for t in ticks], [f"{t:g}" for t in ticks])
    elif measure == "PLO":
        lo, hi = ax.get_xlim()
        ticks = [
            t for t in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95) if lo <= _logit(t) <= hi
        ]
        ax.set_xticks([_logit(t) for t in ticks], [f"{t:g}" for t in ticks])
    ax.set_xlabel(measure_label(measure) + (" (log scale)" if measure in RATIO else ""))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _side_text(
    ax: Axes, pooled: Pooled, y_arr: Array, lo_arr: Array, hi_arr: Array, w_arr: Array
) -> None:
    eff, fit = pooled.effects, pooled.fit
    f = back_transform(eff.measure)
    nat = f(eff.yi)
    nat_lo, nat_hi = f(lo_arr), f(hi_arr)
    trans = ax.get_yaxis_transform()
    ax.text(-0.02, pooled.effects.k + 1.9, "Study", transform=trans, ha="right", weight="bold")
    ax.text(
        1.02, pooled.effects.k + 1.9, "Estimate [95% CI]   Weight", transform=trans, weight="bold"
    )
    for i, y in enumerate(y_arr):
        ax.text(-0.02, y, pooled.labels[i], transform=trans, ha="right", va="center", fontsize=9)
        row = f"{_fmt(nat[i])} [{_fmt(nat_lo[i])}, {_fmt(nat_hi[i])}]   {w_arr[i]:.1f}%"
        ax.text(1.02, y, row, transform=trans, va="center", fontsize=9)
    pooled_nat = f(np.array([fit.estimate_, fit.ci_lb_, fit.ci_ub_, fit.pi_lb_, fit.pi_ub_]))
    summary = f"{_fmt(pooled_nat[0])} [{_fmt(pooled_nat[1])}, {_fmt(pooled_nat[2])}]"
    ax.text(
        -0.02,
        0.5,
        f"Pooled ({fit.method_label})",
        transform=trans,
        ha="right",
        va="center",
        weight="bold",
    )
    ax.text(1.02, 0.5, summary, transform=trans, va="center", fontsize=9, weight="bold")
    het = f"I² = {fit.I2_:.0f}%, τ² = {fit.tau2_:.3g}, Q p = {fit.Q_pval_:.3g}"
    if fit.tau2_ > 0:
        het += f"; prediction interval [{_fmt(pooled_nat[3])}, {_fmt(pooled_nat[4])}] (dashed)"
    ax.annotate(
        het,
        xy=(0, 0),
        xycoords="axes fraction",
        xytext=(0, -48),
        textcoords="offset points",
        fontsize=8,
    )


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure encoded as ``png`` or ``svg`` (SVG text stays text, not paths)."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # real, selectable text in SVG
        fig.savefig(buffer, format=fmt, bbox_inches="tight")
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path) -> list[Path]:
    """Save as PNG and SVG beside each other (the suffix of ``path`` chooses the stem's name).

    ``plot.png`` writes ``plot.png`` and ``plot.svg``; returns the written paths.
    """
    target = Path(path)
    written = []
    for fmt in ("png", "svg"):
        out = target.with_suffix(f".{fmt}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(figure_bytes(fig, fmt))
        written.append(out)
    return written

"""The report's figures (matplotlib, no display needed), returned as Figure objects."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from prolo.outcomes.estimands import EstimandTable

LABELS = {
    "completers": "Completers only",
    "missing_failure": "Missing = failure",
    "missing_success": "Missing = success",
    "multiple_imputation": "Multiple imputation (MAR)",
    "ipw": "Inverse probability weighting",
    "double_sampling": "Double sampling (traced non-responders)",
}


def sensitivity(analysis: Any, band: tuple[float, float]) -> Figure:
    """Delta-adjusted estimate against δ with its 95% band, the claimed band and the tipping
    point (``outcomes.sensitivity.Sensitivity``)."""
    rows = analysis.grid
    figure, axis = plt.subplots(figsize=(7.5, 3.4))
    deltas = [r["delta"] for r in rows]
    axis.axhspan(
        band[0] * 100,
        band[1] * 100,
        color="#f4b400",
        alpha=0.25,
        label=f"claimed success {band[0]:.0%}–{band[1]:.0%}",
    )
    axis.fill_between(
        deltas,
        [r["ci_lb"] * 100 for r in rows],
        [r["ci_ub"] * 100 for r in rows],
        color="#0b5394",
        alpha=0.2,
        label="95% interval",
    )
    axis.plot(deltas, [r["estimate"] * 100 for r in rows], "-o", color="#0b5394", ms=3)
    axis.axvline(0, color="#666666", lw=0.8, ls=":")
    tip = analysis.tipping_point.get("delta")
    if tip is not None:
        axis.axvline(tip, color="#cc0000", lw=1.2, ls="--", label=f"tipping point δ = {tip:.2g}")
    from prolo.outcomes.sensitivity import SCALE_NAMES

    unit = (
        f"points on the {SCALE_NAMES.get(analysis.measure, analysis.measure)}"
        if analysis.scale == "score"
        else "log-odds of success"
    )
    axis.set_xlabel(f"δ: how much worse non-responders did than similar responders ({unit})")
    axis.set_ylabel("success, %")
    axis.set_ylim(0, 100)
    axis.set_title(f"{analysis.definition}: sensitivity to missing-not-at-random", fontsize=10)
    axis.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    return figure


def estimands_against_claim(table: EstimandTable) -> Figure:
    """Each estimand with its 95% interval, against the claimed success band."""
    rows = [e for e in table.estimates if e.estimate is not None]
    figure, axis = plt.subplots(figsize=(7.5, 0.6 * len(rows) + 1.6))
    low, high = table.claim_band
    axis.axvspan(
        low * 100,
        high * 100,
        color="#f4b400",
        alpha=0.25,
        label=f"claimed success {low:.0%}–{high:.0%}",
    )
    for y, e in enumerate(reversed(rows)):
        value = e.estimate or 0.0
        low_ci = min(e.ci_lb if e.ci_lb is not None else value, value)
        high_ci = max(e.ci_ub if e.ci_ub is not None else value, value)
        axis.errorbar(
            value * 100,
            y,
            xerr=[[(value - low_ci) * 100], [(high_ci - value) * 100]],
            fmt="o",
            color="#0b5394",
            capsize=4,
        )
        axis.annotate(
            f"{e.estimate:.0%} ({e.ci_lb:.0%}–{e.ci_ub:.0%}), n={e.denominator}",
            (100, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            annotation_clip=False,
        )
    axis.set_yticks(range(len(rows)), [LABELS[e.estimand] for e in reversed(rows)])
    axis.set_xlim(0, 100)
    axis.set_xlabel(f"success, % ({table.definition}: {table.description})")
    axis.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    return figure


def trajectory(rows: list[dict[str, Any]], measure: str) -> Figure:
    """Mean score at each time point with its 95% interval and the number assessed."""
    shown = [r for r in rows if r["mean"] is not None]
    figure, axis = plt.subplots(figsize=(7.5, 3.2))
    x = list(range(len(shown)))
    means = [r["mean"] for r in shown]
    errors = [
        [r["mean"] - (r["ci_lb"] if r["ci_lb"] is not None else r["mean"]) for r in shown],
        [(r["ci_ub"] if r["ci_ub"] is not None else r["mean"]) - r["mean"] for r in shown],
    ]
    axis.errorbar(x, means, yerr=errors, fmt="-o", color="#0b5394", capsize=4)
    axis.set_xticks(x, [f"{r['time_point']}\nn={r['n']}" for r in shown])
    axis.set_ylabel(f"mean {measure} (95% CI)")
    axis.set_title(f"{measure}: mean among courses assessed at each time point", fontsize=10)
    figure.tight_layout()
    return figure


def flow(counts: dict[str, Any]) -> Figure:
    """Boxes from enrolment to analysis, with what left at each step."""
    steps = [
        ("Courses enrolled", counts["enrolled_courses"]),
        ("Treated (≥ 1 injection)", counts["treated"]),
        ("Evaluable (baseline)", counts["evaluable"]),
        (f"Followed at {counts['time_point']}", counts["followed"].get(counts["time_point"], 0)),
        ("Analysed (completers)", counts["analysed"]),
    ]
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    axis.set_axis_off()
    for i, (label, value) in enumerate(steps):
        y = 1 - i * 0.22
        axis.text(
            0.3,
            y,
            f"{label}\n{value:,}",
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "#e8f0fe", "edgecolor": "#0b5394"},
        )
        if i:
            lost = steps[i - 1][1] - value
            axis.annotate(
                "", xy=(0.3, y + 0.07), xytext=(0.3, y + 0.15), arrowprops={"arrowstyle": "->"}
            )
            axis.text(0.62, y + 0.11, f"{lost:,} left this step", fontsize=8, va="center")
    axis.set_ylim(0, 1.12)
    figure.tight_layout()
    return figure


def svg(figure: Figure) -> str:
    """The figure as an inline SVG string (text kept as text), then closed."""
    import io

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


SECTION_TITLES = {
    "beside_trials": "The registry beside the randomized trials",
    "recurrence": "Recurrence among responders (Kaplan–Meier)",
    "factors": "Key factors (adjusted odds ratios)",
    "practitioners": "Practitioners (funnel plot)",
}


def section_figures(sections: dict[str, Any]) -> dict[str, Figure]:
    """Figures of the recurrence, factor and practitioner sections that have data."""
    made: dict[str, Figure] = {}
    if "beside_trials" in sections:
        made["beside_trials"] = beside_trials(sections["beside_trials"])
    curve = sections.get("recurrence", {}).get("curve")
    if curve:
        figure, axis = plt.subplots(figsize=(7.5, 3.2))
        axis.step(
            curve["day"], [v * 100 for v in curve["recurrence_free"]], where="post", color="#0b5394"
        )
        axis.set_xlabel("days from the first injection")
        axis.set_ylabel("recurrence-free, %")
        axis.set_ylim(0, 102)
        axis.set_title(
            f"{sections['recurrence']['responders']} responders, "
            f"{sections['recurrence']['recurrences']} recurrences",
            fontsize=9,
        )
        figure.tight_layout()
        made["recurrence"] = figure
    if "factors" in sections:
        from prolo.outcomes.factors import FactorModel, forest_figure

        data = sections["factors"]
        made["factors"] = forest_figure(
            FactorModel(data["definition"], data["odds_ratios"], 0.0, 0.0, 0, 0, np.empty(0))
        )
    if "practitioners" in sections:
        from prolo.outcomes.practitioners import Funnel, funnel_figure

        data = sections["practitioners"]
        made["practitioners"] = funnel_figure(
            Funnel(data["target"], data["minimum_volume"], data["practitioners"])
        )
    return made


def beside_trials(rows: list[dict[str, Any]]) -> Figure:
    """The registry's success (missing = failure, multiple imputation) beside the pooled
    responder proportions of the trials' prolotherapy and control arms, with the caveat."""
    from prolo.evidence.registry_beside_trials import Rate, registry_beside_trials_figure

    registry = [
        Rate(r["label"], r["estimate"], r["ci_lb"], r["ci_ub"], r.get("detail", "")) for r in rows
    ]
    return registry_beside_trials_figure(registry)  # type: ignore[no-any-return]

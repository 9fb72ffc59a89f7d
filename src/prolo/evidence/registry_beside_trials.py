"""The registry's success rate beside the pooled responder proportions of the trials' arms.

The trials' prolotherapy arms and control arms are pooled separately as logit proportions
(PLO, random effects) and back-transformed. Only binary rows of one comparison are pooled
together, and ``confidence=low`` rows are left out unless asked for. The figure says in
words that a registry has no control arm and that the trials' control groups also improved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit

from prolo.evidence.effects import proportion_effects
from prolo.evidence.models import MetaAnalysis, Method
from prolo.evidence.trials import Trial, bundled_trials, select_trials

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CAVEAT = (
    "A registry has no control arm: its success rate cannot show what the injections add. "
    "In the trials the control groups also improved."
)


@dataclass(frozen=True)
class Rate:
    """A proportion with its interval, on the natural scale (0–1)."""

    label: str
    estimate: float
    ci_lb: float
    ci_ub: float
    detail: str = ""
    group: str = "registry"


def pooled_arm(trials: list[Trial], arm: str, *, method: Method = "REML") -> MetaAnalysis:
    """Pool one arm's responder proportions (``arm`` is ``"treated"`` or ``"control"``)."""
    events = [t.ai if arm == "treated" else t.ci for t in trials]
    totals = [t.n1i if arm == "treated" else t.n2i for t in trials]
    eff = proportion_effects(np.array(events, dtype=float), np.array(totals, dtype=float))
    return MetaAnalysis(method).fit(eff.yi, eff.vi)


def trial_arm_rates(
    comparisons: tuple[str, ...] = ("prolotherapy_with_cointerventions", "prolotherapy_alone"),
    *,
    method: Method = "REML",
    include_low_confidence: bool = False,
    timepoint: float = 6.0,
) -> list[Rate]:
    """Pooled (back-transformed) responder proportions of both arms for each comparison."""
    rates = []
    for comparison in comparisons:
        rows = select_trials(
            bundled_trials(),
            comparison=comparison,
            measure_type="binary",
            timepoint=timepoint,
            include_low_confidence=include_low_confidence,
        )
        if not rows:
            continue
        studies = ", ".join(t.label for t in rows)
        for arm, name in (("treated", "prolotherapy arms"), ("control", "control arms")):
            fit = pooled_arm(rows, arm, method=method)
            ests = expit(np.array([fit.estimate_, fit.ci_lb_, fit.ci_ub_]))
            rates.append(
                Rate(
                    label=f"Trials, {comparison.replace('_', ' ')}: {name}",
                    estimate=float(ests[0]),
                    ci_lb=float(ests[1]),
                    ci_ub=float(ests[2]),
                    detail=f"k = {fit.k_} ({studies}); {method}",
                    group=arm,
                )
            )
    return rates


_COLOURS = {"registry": "#1f4e79", "treated": "#8b0000", "control": "#707070"}


def registry_beside_trials_figure(
    registry: list[Rate], trials: list[Rate] | None = None, *, title: str = ""
) -> Figure:
    """Draw registry rates (e.g. missing = failure, multiple imputation) above the trial arms.

    ``registry`` holds the registry's estimates as plain numbers; ``trials`` defaults to
    :func:`trial_arm_rates`. The caveat is printed under the plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = list(registry) + list(trial_arm_rates() if trials is None else trials)
    fig = Figure(figsize=(10.0, 2.2 + 0.5 * len(rows)), dpi=110)
    ax = fig.add_axes((0.42, 0.22, 0.36, 0.68))
    ys = np.arange(len(rows), 0, -1, dtype=float)
    for y, rate in zip(ys, rows, strict=True):
        colour = _COLOURS.get(rate.group, "black")
        ax.hlines(y, rate.ci_lb, rate.ci_ub, color=colour, linewidth=2)
        ax.plot([rate.estimate], [y], "o", color=colour)
        ax.text(-0.02, y, rate.label, transform=ax.get_yaxis_transform(), ha="right", va="center")
        text = f"{rate.estimate:.0%} [{rate.ci_lb:.0%}, {rate.ci_ub:.0%}]"
        ax.text(1.02, y + 0.12, text, transform=ax.get_yaxis_transform(), va="center")
        ax.text(1.02, y - 0.18, rate.detail, transform=ax.get_yaxis_transform(), fontsize=7)
    ax.axvspan(0.8, 0.9, color="#f3d9a4", alpha=0.5, label="claimed 80–90%")
    ax.set_xlim(0, 1)
    ax.set_ylim(0.4, len(rows) + 0.6)
    ax.set_yticks([])
    ax.set_xlabel("success / responder proportion (95% CI)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(title or "Registry success rate beside the randomized trials' arms", fontsize=10)
    fig.text(0.02, 0.03, CAVEAT, fontsize=9, style="italic", wrap=True)
    return fig

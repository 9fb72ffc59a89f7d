"""One entry point from studies to a fitted model, shared by the command line and the API."""

from __future__ import annotations

from dataclasses import dataclass

from prolo.evidence.effects import BINARY_MEASURES, MEASURES, EffectSizes, escalc
from prolo.evidence.errors import EvidenceInputError
from prolo.evidence.mh import MantelHaenszel
from prolo.evidence.models import METHODS, MetaAnalysis
from prolo.evidence.results import FittedMeta
from prolo.evidence.trials import Studies, bundled_trials, select_trials, trial_studies

DEFAULT_MEASURE = {"binary": "OR", "continuous": "SMD"}


@dataclass(frozen=True)
class Pooled:
    """Effect sizes, the fitted model and the study labels, ready for tables and plots."""

    effects: EffectSizes
    fit: FittedMeta
    labels: list[str]
    title: str = ""


def check_options(measure: str, method: str, *, mh: bool) -> None:
    """Reject unknown measures or methods, and MH for non-binary measures."""
    if measure not in MEASURES:
        raise EvidenceInputError(f"unknown measure {measure!r}; use one of {', '.join(MEASURES)}")
    if method not in METHODS:
        raise EvidenceInputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if mh and measure not in BINARY_MEASURES:
        raise EvidenceInputError(f"Mantel-Haenszel pooling needs RR, OR or RD, not {measure}")


def _two_by_two(studies: Studies) -> tuple[list[float], ...]:
    c = studies.columns
    if studies.layout == "2x2":
        return c["ai"], c["bi"], c["ci"], c["di"]
    if studies.layout == "2x2n":
        bi = [n - a for n, a in zip(c["n1i"], c["ai"], strict=True)]
        di = [n - a for n, a in zip(c["n2i"], c["ci"], strict=True)]
        return c["ai"], bi, c["ci"], di
    raise EvidenceInputError("Mantel-Haenszel pooling needs 2x2 counts", column="ai")


def pool(
    studies: Studies,
    *,
    measure: str,
    method: str = "REML",
    hksj: bool = False,
    mh: bool = False,
    title: str = "",
) -> Pooled:
    """Compute effect sizes for ``measure`` and pool them (inverse variance, or MH if ``mh``)."""
    check_options(measure, method, mh=mh)
    effects = escalc(measure, studies.columns)
    fit: FittedMeta
    if mh:
        table = _two_by_two(studies)
        fit = MantelHaenszel(measure).fit(*table)  # type: ignore[arg-type]
    else:
        fit = MetaAnalysis(method, hksj=hksj).fit(effects.yi, effects.vi)  # type: ignore[arg-type]
    return Pooled(effects, fit, studies.labels, title)


def pool_bundled(
    *,
    comparison: str,
    outcome: str = "binary",
    measure: str | None = None,
    method: str = "REML",
    hksj: bool = False,
    mh: bool = False,
    timepoint: float = 6.0,
    include_low_confidence: bool = False,
) -> Pooled:
    """Pool the bundled trials of one comparison and one outcome kind (binary/continuous)."""
    if outcome not in DEFAULT_MEASURE:
        raise EvidenceInputError(f"outcome must be binary or continuous, not {outcome!r}")
    rows = select_trials(
        bundled_trials(),
        comparison=comparison,
        measure_type=outcome,
        timepoint=timepoint,
        include_low_confidence=include_low_confidence,
    )
    if not rows:
        raise EvidenceInputError(f"no bundled {outcome} trials for comparison {comparison!r}")
    title = f"{comparison.replace('_', ' ')} ({outcome}, ~{timepoint:g} months)"
    return pool(
        trial_studies(rows, outcome),
        measure=measure or DEFAULT_MEASURE[outcome],
        method=method,
        hksj=hksj,
        mh=mh,
        title=title,
    )

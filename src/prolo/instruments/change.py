"""Change from baseline, as responder definitions use it (DESIGN §5)."""

from __future__ import annotations


def absolute_change(baseline: float, follow_up: float) -> float:
    """Follow-up minus baseline (negative = lower = better for pain and disability)."""
    return follow_up - baseline


def relative_change(baseline: float, follow_up: float) -> float | None:
    """(follow-up − baseline) ÷ baseline; undefined (None) when the baseline is not above zero,
    and such a course is excluded from relative definitions (and counted as excluded)."""
    if baseline <= 0:
        return None
    return (follow_up - baseline) / baseline

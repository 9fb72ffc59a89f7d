"""Adverse events per session and per course, by type and by grade, with exact intervals."""

from __future__ import annotations

from typing import Any

import pandas as pd

from prolo.outcomes.intervals import clopper_pearson


def _rate(events: int, total: int) -> dict[str, Any]:
    low, high = clopper_pearson(events, total)
    return {
        "with_event": events,
        "total": total,
        "rate": events / total if total else None,
        "ci_lb": low,
        "ci_ub": high,
    }


def summary(sessions: pd.DataFrame, events: pd.DataFrame, *, courses: int) -> dict[str, Any]:
    """Proportion of sessions (and of courses) with at least one event of each type and grade.

    An event without a session counts toward its course only. Intervals: Clopper–Pearson 95%.
    """
    n_sessions = len(sessions)
    rows: list[dict[str, Any]] = []
    groups: list[tuple[str, Any]] = [("type", "event_type"), ("grade", "grade")]
    for label, column in groups:
        for value, group in events.groupby(column, sort=True):
            session_hits = group["session_id"].dropna().nunique()
            course_hits = group["course_id"].nunique()
            rows.append(
                {
                    "by": label,
                    "value": value if label == "type" else int(value),
                    "events": len(group),
                    "per_session": _rate(int(session_hits), n_sessions),
                    "per_course": _rate(int(course_hits), courses),
                }
            )
    serious = events[events["serious"].astype(bool)] if len(events) else events
    any_course = int(events["course_id"].nunique()) if len(events) else 0
    return {
        "definition": "share of sessions (or courses) with at least one adverse event; "
        "Clopper–Pearson 95% intervals",
        "sessions": n_sessions,
        "courses": courses,
        "any_event": _rate(any_course, courses),
        "serious": _rate(int(serious["course_id"].nunique()) if len(serious) else 0, courses),
        "rows": rows,
    }

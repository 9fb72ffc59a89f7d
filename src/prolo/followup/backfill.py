"""Due questionnaires for courses that arrive through the bulk import path, in bulk.

The service creates them one course at a time when a clinician starts a course; an import of
past care needs them too, or completeness would ignore imported registries. A time point counts
as answered when the course has an assessment inside its window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, text

from prolo.followup.models import DueQuestionnaire
from prolo.followup.schedule import Schedule
from prolo.followup.service import instruments_for


def due_rows(
    courses: pd.DataFrame, assessments: pd.DataFrame, schedule: Schedule, created_at: dt.datetime
) -> list[dict[str, Any]]:
    """Rows of ``due_questionnaires`` for ``courses`` (course_id, index_date, region) given
    their assessments (course_id, assessed_on). Vectorised per time point."""
    rows: list[dict[str, Any]] = []
    index = pd.to_datetime(courses["index_date"]).to_numpy()
    for point in schedule.time_points:
        opens = index + np.timedelta64(point.start, "D")
        closes = index + np.timedelta64(point.end, "D")
        window = pd.DataFrame(
            {"course_id": courses["course_id"].to_numpy(), "opens": opens, "closes": closes}
        )
        inside = assessments.merge(window, on="course_id")
        inside = inside[
            (inside["assessed_on"] >= inside["opens"]) & (inside["assessed_on"] <= inside["closes"])
        ]
        first = inside.groupby("course_id")["assessed_on"].min()
        answered = window["course_id"].map(first)
        due_on = index + np.timedelta64(point.target, "D")
        for n, course_id in enumerate(window["course_id"].to_numpy()):
            when = answered.iloc[n]
            rows.append(
                {
                    "course_id": int(course_id),
                    "time_point": point.name,
                    "due_on": pd.Timestamp(due_on[n]).date(),
                    "window_opens": pd.Timestamp(opens[n]).date(),
                    "window_closes": pd.Timestamp(closes[n]).date(),
                    "instruments": instruments_for(schedule, point.name, courses["region"].iloc[n]),
                    "status": "due" if pd.isna(when) else "answered",
                    "answered_at": None
                    if pd.isna(when)
                    else pd.Timestamp(when).to_pydatetime().replace(tzinfo=dt.UTC),
                    "created_at": created_at,
                }
            )
    return rows


def create_for_imported(
    connection: Connection, first_id: int, last_id: int, schedule: Schedule
) -> int:
    """Create the due questionnaires of the imported courses ``first_id``…``last_id`` that have
    none yet; returns how many rows were written."""
    between = {"low": first_id, "high": last_id}
    courses = pd.DataFrame(
        connection.execute(
            text(
                "SELECT c.id AS course_id, COALESCE(s.first, c.start_date) AS index_date, d.region "
                "FROM treatment_courses c JOIN conditions d ON d.id = c.condition_id "
                "LEFT JOIN (SELECT course_id, MIN(session_date) AS first FROM injection_sessions "
                "  WHERE retired_at IS NULL AND course_id BETWEEN :low AND :high "
                "  GROUP BY course_id) s "
                "  ON s.course_id = c.id "
                "WHERE c.id BETWEEN :low AND :high AND c.retired_at IS NULL AND NOT EXISTS "
                "  (SELECT 1 FROM due_questionnaires q WHERE q.course_id = c.id)"
            ),
            between,
        ).all(),
        columns=["course_id", "index_date", "region"],
    )
    if courses.empty:
        return 0
    assessments = pd.DataFrame(
        connection.execute(
            text(
                "SELECT course_id, assessed_on FROM assessments "
                "WHERE course_id BETWEEN :low AND :high AND retired_at IS NULL"
            ),
            between,
        ).all(),
        columns=["course_id", "assessed_on"],
    )
    assessments["assessed_on"] = pd.to_datetime(assessments["assessed_on"])
    rows = due_rows(courses, assessments, schedule, dt.datetime.now(dt.UTC))
    connection.execute(insert(DueQuestionnaire), rows)
    return len(rows)

"""Due questionnaires for courses that arrive through the bulk import path, in bulk.

The service creates them one course at a time when a clinician starts a course; an import of
past care needs them too, or completeness would ignore imported registries. A time point counts
as answered when the course has an assessment inside its window.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, func, select, text

from prolo.followup.models import DueQuestionnaire
from prolo.followup.schedule import Schedule
from prolo.followup.service import instruments_for
from prolo.interop import writer


def due_frame(courses: pd.DataFrame, assessments: pd.DataFrame, schedule: Schedule) -> pd.DataFrame:
    """Rows of ``due_questionnaires`` for ``courses`` (course_id, index_date, region) given
    their assessments (course_id, assessed_on): one vectorised pass per time point."""
    index = datetimes(courses["index_date"])
    course_ids = courses["course_id"].to_numpy()
    regions = courses["region"].astype(str).to_numpy()
    region_codes, distinct_regions = pd.factorize(regions)
    # Each assessment's day after its course's index date (assessments of other courses drop).
    course_of = pd.Index(course_ids).get_indexer(pd.Index(assessments["course_id"].to_numpy()))
    mine = course_of >= 0
    course_of = course_of[mine]
    assessed_on = datetimes(assessments["assessed_on"])[mine]
    after = assessed_on - index[course_of]
    frames = []
    for point in schedule.time_points:
        inside = (after >= np.timedelta64(point.start, "D")) & (
            after <= np.timedelta64(point.end, "D")
        )
        answered = np.full(len(courses), np.datetime64("NaT"), dtype="datetime64[ns]")
        first = (
            pd.Series(assessed_on[inside]).groupby(course_of[inside]).min()
            if inside.any()
            else pd.Series(dtype="datetime64[ns]")
        )
        answered[first.index.to_numpy(dtype=np.int64)] = first.to_numpy(dtype="datetime64[ns]")
        by_region = np.array(
            [json.dumps(instruments_for(schedule, point.name, r)) for r in distinct_regions],
            dtype=object,
        )
        frames.append(
            pd.DataFrame(
                {
                    "course_id": course_ids,
                    "time_point": point.name,
                    "due_on": index + np.timedelta64(point.target, "D"),
                    "window_opens": index + np.timedelta64(point.start, "D"),
                    "window_closes": index + np.timedelta64(point.end, "D"),
                    "instruments": by_region[region_codes],
                    "status": np.where(np.isnat(answered), "due", "answered"),
                    "answered_at": pd.Series(answered).dt.tz_localize(dt.UTC),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def datetimes(values: pd.Series) -> np.ndarray[Any, Any]:
    """``values`` as datetime64[ns]; a column that already is one is not parsed again (pandas'
    ``to_datetime`` iterates such a column in Python to decide whether to cache)."""
    if pd.api.types.is_datetime64_any_dtype(values) and getattr(values.dt, "tz", None) is None:
        return values.to_numpy(dtype="datetime64[ns]")
    return pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")


def due_rows(
    courses: pd.DataFrame, assessments: pd.DataFrame, schedule: Schedule, created_at: dt.datetime
) -> list[dict[str, Any]]:
    """The same rows as dictionaries (instruments as lists, dates as dates)."""
    frame = due_frame(courses, assessments, schedule)
    return [
        {
            **row,  # type: ignore[dict-item]
            "due_on": row["due_on"].date(),
            "window_opens": row["window_opens"].date(),
            "window_closes": row["window_closes"].date(),
            "instruments": json.loads(row["instruments"]),
            "answered_at": None
            if pd.isna(row["answered_at"])
            else row["answered_at"].to_pydatetime(),
            "created_at": created_at,
        }
        for row in frame.to_dict("records")
    ]


def create_for_batch(
    connection: Connection,
    courses: pd.DataFrame,
    sessions: pd.DataFrame | None,
    conditions: pd.DataFrame | None,
    assessments: pd.DataFrame | None,
    schedule: Schedule,
) -> int:
    """Create the due questionnaires of a batch's new courses from the batch's own frames.

    The courses are new (the batch inserted them), so their injection sessions and
    assessments can only be in the same batch: nothing has to be read back. Reading back was
    quadratic on PostgreSQL — right after the bulk load, inside the same transaction, the
    planner believes the tables empty and ran the per-course ``MIN(session_date)`` over the
    whole id range once per course. Only the regions of conditions imported earlier are read
    (by primary key). Returns how many rows were written."""
    if courses.empty:
        return 0
    first_session = pd.Series(dtype="datetime64[ns]")
    if sessions is not None and len(sessions):
        first_session = (
            pd.DataFrame(
                {
                    "course_id": sessions["course_id"].to_numpy(),
                    "session_date": datetimes(sessions["session_date"]),
                }
            )
            .groupby("course_id")["session_date"]
            .min()
        )
    region = pd.Series(dtype=object)
    if conditions is not None and len(conditions):
        region = pd.Series(conditions["region"].to_numpy(), index=conditions["id"].to_numpy())
    missing = sorted(set(courses["condition_id"].astype(int)) - set(region.index.astype(int)))
    for start in range(0, len(missing), 10_000):
        chunk = missing[start : start + 10_000]
        found = connection.execute(
            text("SELECT id, region FROM conditions WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": chunk},
        ).all()
        region = pd.concat([region, pd.Series({int(i): r for i, r in found}, dtype=object)])
    index_date = courses["id"].map(first_session)
    index_date = index_date.fillna(pd.Series(datetimes(courses["start_date"]), index=courses.index))
    frame_courses = pd.DataFrame(
        {
            "course_id": courses["id"].to_numpy(),
            "index_date": datetimes(index_date),
            "region": courses["condition_id"].map(region).to_numpy(),
        }
    )
    if assessments is not None and len(assessments):
        answered = assessments.loc[assessments["course_id"].notna(), ["course_id", "assessed_on"]]
        answered = pd.DataFrame(
            {
                "course_id": answered["course_id"].astype("int64").to_numpy(),
                "assessed_on": datetimes(answered["assessed_on"]),
            }
        )
    else:
        answered = pd.DataFrame(
            {
                "course_id": pd.Series(dtype="int64"),
                "assessed_on": pd.Series(dtype="datetime64[ns]"),
            }
        )
    frame = due_frame(frame_courses, answered, schedule)
    return _write_due(connection, frame)


def _write_due(connection: Connection, frame: pd.DataFrame) -> int:
    first = int(connection.scalar(select(func.max(DueQuestionnaire.id))) or 0) + 1
    frame.insert(0, "id", np.arange(first, first + len(frame), dtype=np.int64))
    table = DueQuestionnaire.__table__
    writer.write(connection, table, frame, dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    writer.bump_sequence(connection, table)  # type: ignore[arg-type]
    return len(frame)


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
    frame = due_frame(courses, assessments, schedule)
    return _write_due(connection, frame)

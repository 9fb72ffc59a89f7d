"""Imported courses get their due questionnaires too, so completeness covers imported registries."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select

from prolo.db import engine_for, transaction
from prolo.followup.backfill import due_rows
from prolo.followup.completeness import completeness
from prolo.followup.models import DueQuestionnaire
from prolo.followup.schedule import DEFAULT
from prolo.registry.models import TreatmentCourse
from prolo.security.principal import system
from prolo.synth import params, run


def test_a_time_point_is_answered_when_an_assessment_falls_in_its_window() -> None:
    courses = pd.DataFrame(
        {
            "course_id": [1, 2],
            "index_date": ["2025-01-01", "2025-01-01"],
            "region": ["lumbar", "cervical"],
        }
    )
    assessments = pd.DataFrame(
        {
            "course_id": [1, 1, 2],
            "assessed_on": pd.to_datetime(["2024-12-20", "2025-07-02", "2025-02-27"]),
        }
    )
    rows = {
        (r["course_id"], r["time_point"]): r
        for r in due_rows(courses, assessments, DEFAULT, dt.datetime.now(dt.UTC))
    }
    assert rows[(1, "baseline")]["status"] == "answered"
    assert rows[(1, "6m")]["status"] == "answered"  # day 182
    assert rows[(2, "6w")]["status"] == "due"  # day 57 is one day past the 6-week window
    assert rows[(2, "6m")]["instruments"][2] == "NDI" and rows[(1, "6m")]["instruments"][2] == "ODI"


def test_imported_registry_has_completeness(fresh_database_url: str) -> None:
    run.to_database(fresh_database_url, 150, 5, params.load(None))
    with transaction(engine_for(fresh_database_url)) as session:
        courses = session.scalar(select(func.count()).select_from(TreatmentCourse))
        dues = session.scalar(select(func.count()).select_from(DueQuestionnaire))
        assert dues == 6 * courses
        rows = {c.key: c for c in completeness(session, actor=system(), today=dt.date.today())}
    assert next(iter(rows)) == "baseline" and rows["baseline"].due == courses
    assert 0 < rows["6m"].answered < rows["6m"].due

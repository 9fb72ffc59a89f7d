"""Stored assessments. Scores are always computed by the server from the item answers; a
score-only row (legacy data without items) is marked as such."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from prolo.registry.models import Record

# "tracing": obtained by tracing a course drawn for double sampling (followup.tracing).
SOURCES = ("clinic", "patient_link", "phone", "import", "tracing")


class Assessment(Record):
    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_course_instrument", "course_id", "instrument"),
        # Covers the outcome extraction's read (instrument → course, date, score) without
        # touching the table: the read of a million courses is the cost that matters.
        Index(
            "ix_assessments_extract",
            "instrument",
            "scorable",
            "retired_at",
            "course_id",
            "assessed_on",
            "score",
        ),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_courses.id"))
    instrument: Mapped[str] = mapped_column(String(32))
    assessed_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    # Answers in item order: a number, true/false, or "not_asked" / "missing" / "refused".
    items: Mapped[list[Any] | None] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    raw_score: Mapped[float | None] = mapped_column(Float)
    scorable: Mapped[bool] = mapped_column(Boolean)
    score_only: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Days from the course's index date, and the time point whose window holds that day.
    day: Mapped[int | None] = mapped_column(Integer)
    time_point: Mapped[str | None] = mapped_column(String(16))

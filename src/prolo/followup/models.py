"""Tables of follow-up: what is due when, the links sent to patients, the registry's schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from prolo.db import Base
from prolo.registry.models import utcnow

DUE_STATUSES = ("due", "answered", "missed", "cancelled")


class RegistrySetting(Base):
    """Per-registry configuration as JSON, e.g. the follow-up schedule."""

    __tablename__ = "registry_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DueQuestionnaire(Base):
    """The questionnaires a course's patient owes at one time point."""

    __tablename__ = "due_questionnaires"
    __table_args__ = (UniqueConstraint("course_id", "time_point"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    time_point: Mapped[str] = mapped_column(String(16))
    due_on: Mapped[dt.date] = mapped_column(Date)
    window_opens: Mapped[dt.date] = mapped_column(Date)
    window_closes: Mapped[dt.date] = mapped_column(Date, index=True)
    instruments: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="due", index=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Invitation(Base):
    """A single-use, expiring link to a due questionnaire; only a hash of its token is stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_id: Mapped[int] = mapped_column(ForeignKey("due_questionnaires.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # invitation | reminder
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Answers saved part-way, kept until the questionnaire is submitted.
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TracingDraw(Base):
    """One draw of the courses to trace at a time point (double sampling, DESIGN §5): a random
    sample, of a configured fraction, of the courses whose questionnaire was missed and that no
    earlier draw of the time point considered. Drawn once, with its seed, date and probability."""

    __tablename__ = "tracing_draws"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time_point: Mapped[str] = mapped_column(String(16), index=True)
    drawn_on: Mapped[dt.date] = mapped_column(Date)
    fraction: Mapped[float] = mapped_column(Float)  # as asked
    probability: Mapped[float] = mapped_column(Float)  # as drawn: sampled ÷ eligible
    seed: Mapped[int] = mapped_column(Integer)
    eligible: Mapped[int] = mapped_column(Integer)
    sampled: Mapped[int] = mapped_column(Integer)
    drawn_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TracingMember(Base):
    """A course that was eligible in a draw, sampled or not (the estimator needs both: the
    non-responders a traced course stands for are the eligible of its draw)."""

    __tablename__ = "tracing_members"
    __table_args__ = (UniqueConstraint("course_id", "time_point"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("tracing_draws.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    time_point: Mapped[str] = mapped_column(String(16))
    sampled: Mapped[bool] = mapped_column(Boolean, index=True)

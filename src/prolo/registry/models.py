"""Tables of the clinical record.

Identifying columns carry ``info={"phi": True}`` so that exports and de-identification find them
from the model itself (see :func:`phi_columns`) rather than from a hand-kept list.
"""

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
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from prolo.db import Base

PHI = {"phi": True}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Record(Base):
    """Columns every clinical table has: identity, timestamps and retirement (no hard deletes)."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    # Indexed: the analysis store finds the records changed since its last refresh by it.
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True),
        default=utcnow,
        onupdate=utcnow,
        server_default=func.now(),
        index=True,
    )
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retired_reason: Mapped[str | None] = mapped_column(Text)


class VocabularyTerm(Base):
    """A controlled term (region, agent, target, …); extendable as data without code changes."""

    __tablename__ = "vocabulary_terms"
    __table_args__ = (UniqueConstraint("vocabulary", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vocabulary: Mapped[str] = mapped_column(String(64), index=True)
    code: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(255))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Site(Record):
    __tablename__ = "sites"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))


class Practitioner(Record):
    __tablename__ = "practitioners"

    name: Mapped[str] = mapped_column(String(255))
    degree: Mapped[str] = mapped_column(String(32))
    specialty: Mapped[str] = mapped_column(String(64))
    years_in_practice: Mapped[int] = mapped_column(Integer)
    prior_prolotherapy_procedures: Mapped[int] = mapped_column(Integer, default=0)


class PractitionerSite(Record):
    """A practitioner works at a site; a course's practitioner must work at the patient's site."""

    __tablename__ = "practitioner_sites"
    __table_args__ = (UniqueConstraint("practitioner_id", "site_id"),)

    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)


class TrainingRecord(Record):
    __tablename__ = "training_records"

    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    organization: Mapped[str] = mapped_column(String(64))
    organization_other: Mapped[str | None] = mapped_column(String(255))
    course: Mapped[str] = mapped_column(String(255))
    completed_on: Mapped[dt.date] = mapped_column(Date)
    hours: Mapped[float] = mapped_column(Float)
    certificate_id: Mapped[str | None] = mapped_column(String(128))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)


class Patient(Record):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64), info=PHI)
    given_name: Mapped[str | None] = mapped_column(String(255), info=PHI)
    family_name: Mapped[str | None] = mapped_column(String(255), info=PHI)
    birth_date: Mapped[dt.date | None] = mapped_column(Date, info=PHI)
    sex: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(255), info=PHI)
    phone: Mapped[str | None] = mapped_column(String(64), info=PHI)
    consent_status: Mapped[str] = mapped_column(String(16))
    consent_date: Mapped[dt.date | None] = mapped_column(Date)


class Condition(Record):
    __tablename__ = "conditions"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    icd10_code: Mapped[str] = mapped_column(String(16))
    region: Mapped[str] = mapped_column(String(32))
    onset_date: Mapped[dt.date] = mapped_column(Date)
    diagnosis_confirmation: Mapped[str] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text, info=PHI)


class PriorTreatment(Record):
    __tablename__ = "prior_treatments"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    condition_id: Mapped[int | None] = mapped_column(ForeignKey("conditions.id"), index=True)
    treatment_type: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(16))


class TreatmentCourse(Record):
    __tablename__ = "treatment_courses"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    condition_id: Mapped[int] = mapped_column(ForeignKey("conditions.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    planned_sessions: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    stop_reason: Mapped[str | None] = mapped_column(Text)
    eligibility_warnings: Mapped[list[str]] = mapped_column(JSON, default=list)


class InjectionSession(Record):
    __tablename__ = "injection_sessions"
    __table_args__ = (
        Index("ix_injection_sessions_first", "course_id", "retired_at", "session_date"),
    )

    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    session_date: Mapped[dt.date] = mapped_column(Date)
    agent: Mapped[str] = mapped_column(String(64))
    concentration_percent: Mapped[float | None] = mapped_column(Float)
    anesthetic: Mapped[str] = mapped_column(String(32))
    total_volume_ml: Mapped[float] = mapped_column(Float)
    injection_count: Mapped[int] = mapped_column(Integer)
    guidance: Mapped[str] = mapped_column(String(32))
    # A list of {"target": code, "levels": [...], "side": left|right|bilateral|midline}.
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class CoIntervention(Record):
    """Co-interventions and follow-up therapy, with the patient's adherence to them."""

    __tablename__ = "co_interventions"

    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    intervention_type: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    adherence_percent: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)


class AdverseEvent(Record):
    __tablename__ = "adverse_events"

    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("injection_sessions.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    grade: Mapped[int] = mapped_column(Integer)
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    onset_date: Mapped[dt.date] = mapped_column(Date)
    resolution_date: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)


class Recurrence(Record):
    """A recurrence of pain or a re-injury after a course."""

    __tablename__ = "recurrences"

    course_id: Mapped[int] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    event_date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)


class WorkStatus(Record):
    __tablename__ = "work_statuses"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))


class ObjectiveMeasure(Record):
    """A typed measurement with unit and method: the start of the objective evidence."""

    __tablename__ = "objective_measures"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_courses.id"), index=True)
    measured_on: Mapped[dt.date] = mapped_column(Date)
    measure_type: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(64))
    structure: Mapped[str | None] = mapped_column(String(64))
    side: Mapped[str | None] = mapped_column(String(16))
    finding: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who changed what, when, the values before and after, and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(64), index=True)
    entity_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)


def phi_columns(model: type[Base]) -> list[str]:
    """Names of a model's columns marked as protected health information."""
    return [column.name for column in model.__table__.columns if column.info.get("phi")]

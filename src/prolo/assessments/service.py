"""Storing assessments: the server scores the items, assigns the time point, audits the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prolo.assessments.models import Assessment
from prolo.assessments.schemas import AssessmentCreate, AssessmentUpdate
from prolo.errors import DomainError, FieldError, NotFound
from prolo.followup.schedule import Schedule
from prolo.instruments.definitions import catalogue
from prolo.instruments.scoring import AnswerError, score
from prolo.registry import models as m
from prolo.security import audit
from prolo.security.policy import READ, WRITE, authorize, visible
from prolo.security.principal import Principal

ENTITY = "assessment"


def index_date(session: Session, course: m.TreatmentCourse) -> dt.date:
    """Day 0 of a course: its first injection, else its planned start."""
    first = session.scalar(
        select(func.min(m.InjectionSession.session_date)).where(
            m.InjectionSession.course_id == course.id, m.InjectionSession.retired_at.is_(None)
        )
    )
    return first or course.start_date


def _visible(session: Session, model: type[m.Record], record_id: int, actor: Principal) -> Any:
    return session.scalars(
        select(model).where(
            model.id == record_id, visible(actor, model), model.retired_at.is_(None)
        )
    ).first()


def _check(session: Session, data: AssessmentCreate, actor: Principal) -> list[FieldError]:
    errors = []
    if data.instrument.upper() not in catalogue():
        known = ", ".join(sorted(catalogue()))
        errors.append(FieldError("instrument", f"{data.instrument!r} is not one of {known}"))
    if data.assessed_on > dt.date.today():
        errors.append(FieldError("assessed_on", f"{data.assessed_on} is in the future"))
    if _visible(session, m.Patient, data.patient_id, actor) is None:
        errors.append(FieldError("patient_id", f"no patient with id {data.patient_id}"))
    if data.course_id is not None:
        course = _visible(session, m.TreatmentCourse, data.course_id, actor)
        if course is None:
            errors.append(FieldError("course_id", f"no treatment course with id {data.course_id}"))
        elif course.patient_id != data.patient_id:
            errors.append(FieldError("course_id", f"{data.course_id} belongs to another patient"))
    return errors


def scored_values(instrument: str, items: list[Any] | None, legacy: float | None) -> dict[str, Any]:
    """Score columns computed from the items (or a legacy score marked as such)."""
    if items is None:
        return {
            "items": None,
            "score": legacy,
            "raw_score": None,
            "scorable": legacy is not None,
            "score_only": True,
            "flags": ["score_only"],
        }
    try:
        result = score(instrument, items)
    except AnswerError as error:
        field = f"items[{error.position - 1}]" if error.position else "items"
        raise DomainError("Invalid answer", [FieldError(field, str(error))]) from error
    return {
        "items": list(items),
        "score": result.score,
        "raw_score": result.raw,
        "scorable": result.scorable,
        "score_only": False,
        "flags": list(result.flags),
    }


def place(session: Session, record: Assessment, schedule: Schedule) -> None:
    """Day since the course's index date and the time point whose window holds it."""
    if record.course_id is None:
        record.day, record.time_point = None, None
        return
    course = session.get(m.TreatmentCourse, record.course_id)
    assert course is not None
    record.day = (record.assessed_on - index_date(session, course)).days
    record.time_point = schedule.assign(record.day)


def create(
    session: Session,
    data: AssessmentCreate,
    *,
    actor: Principal,
    source: str = "clinic",
    schedule: Schedule,
) -> Assessment:
    authorize(actor, ENTITY, WRITE)
    errors = _check(session, data, actor)
    if errors:
        raise DomainError("The assessment breaks a rule", errors)
    instrument = data.instrument.upper()
    record = Assessment(
        patient_id=data.patient_id,
        course_id=data.course_id,
        instrument=instrument,
        assessed_on=data.assessed_on,
        source=source,
        **scored_values(instrument, data.items, data.score),
    )
    place(session, record, schedule)
    session.add(record)
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="create",
        entity=ENTITY,
        entity_id=record.id,
        after=audit.snapshot(record),
    )
    return record


def get_or_raise(session: Session, record_id: int, *, actor: Principal) -> Assessment:
    authorize(actor, ENTITY, READ)
    record = session.scalars(
        select(Assessment).where(Assessment.id == record_id, visible(actor, Assessment))
    ).first()
    if record is None:
        raise NotFound("assessment", record_id)
    return record


def update(
    session: Session,
    record_id: int,
    data: AssessmentUpdate,
    *,
    actor: Principal,
    schedule: Schedule,
) -> Assessment:
    authorize(actor, ENTITY, WRITE)
    record = get_or_raise(session, record_id, actor=actor)
    before = audit.snapshot(record)
    if data.assessed_on is not None:
        if data.assessed_on > dt.date.today():
            raise DomainError("Invalid date", [FieldError("assessed_on", "is in the future")])
        record.assessed_on = data.assessed_on
    if data.items is not None:
        for key, value in scored_values(record.instrument, data.items, None).items():
            setattr(record, key, value)
    place(session, record, schedule)
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="update",
        entity=ENTITY,
        entity_id=record.id,
        before=before,
        after=audit.snapshot(record),
        reason=data.reason,
    )
    return record

"""Business rules of the clinical record, checked in the service before anything is written.

Each check appends :class:`FieldError` s so that one rejected request names every problem at once.
Eligibility problems are warnings: stored with the course and shown, never a block.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.errors import DomainError, FieldError
from prolo.registry import models as m
from prolo.registry import vocabulary
from prolo.registry.entities import ENTITIES, Entity
from prolo.security.policy import visible
from prolo.security.principal import Principal

CHRONIC_MONTHS = 3

Values = dict[str, Any]
Check = Callable[[Session, Values, list[FieldError]], None]


def today() -> dt.date:
    return dt.date.today()


def months_between(earlier: dt.date, later: dt.date) -> int:
    """Whole calendar months from ``earlier`` to ``later``."""
    months = (later.year - earlier.year) * 12 + (later.month - earlier.month)
    return months - 1 if later.day < earlier.day else months


def check(session: Session, entity: Entity, values: Values, actor: Principal) -> list[str]:
    """Validate the final values of a record; raise on errors, return eligibility warnings."""
    errors: list[FieldError] = []
    _check_references(session, entity, values, actor, errors)
    _check_vocabularies(session, entity, values, errors)
    _check_dates(entity, values, errors)
    if not errors and entity.name in SPECIFIC:
        SPECIFIC[entity.name](session, values, errors)
    if errors:
        raise DomainError(f"The {entity.name.replace('_', ' ')} breaks a rule", errors)
    if entity.name == "treatment_course":
        return eligibility_warnings(session, values)
    return []


def _check_references(
    session: Session, entity: Entity, values: Values, actor: Principal, errors: list[FieldError]
) -> None:
    """Referenced records must exist, be active and — for the actor — be at one of their sites."""
    for field_name, target in entity.references.items():
        ref_id = values.get(field_name)
        if ref_id is None:
            continue
        model = ENTITIES[target].model
        record = session.scalars(
            select(model).where(model.id == ref_id, visible(actor, model))
        ).first()
        label = target.replace("_", " ")
        if record is None:
            errors.append(FieldError(field_name, f"no {label} with id {ref_id}"))
        elif record.retired_at is not None:
            errors.append(FieldError(field_name, f"{label} {ref_id} is retired"))


def _check_vocabularies(
    session: Session, entity: Entity, values: Values, errors: list[FieldError]
) -> None:
    for field_name, vocab in entity.vocabulary_fields.items():
        code = values.get(field_name)
        if code is not None and vocabulary.term(session, vocab, code) is None:
            allowed = ", ".join(t.code for t in vocabulary.terms(session, vocab))
            errors.append(
                FieldError(field_name, f"{code!r} is not in the vocabulary {vocab} ({allowed})")
            )


def _check_dates(entity: Entity, values: Values, errors: list[FieldError]) -> None:
    for column in entity.model.__table__.columns:
        value = values.get(column.name)
        if type(value) is dt.date and value > today():
            errors.append(FieldError(column.name, f"{value} is in the future"))
    for start, end in (
        ("start_date", "end_date"),
        ("onset_date", "resolution_date"),
    ):
        if values.get(start) and values.get(end) and values[end] < values[start]:
            errors.append(FieldError(end, f"{values[end]} is before {start} {values[start]}"))


def _practitioner_works_at(session: Session, practitioner_id: int, site_id: int) -> bool:
    return (
        session.scalars(
            select(m.PractitionerSite.id).where(
                m.PractitionerSite.practitioner_id == practitioner_id,
                m.PractitionerSite.site_id == site_id,
                m.PractitionerSite.retired_at.is_(None),
            )
        ).first()
        is not None
    )


def _require_works_at_patient_site(
    session: Session, practitioner_id: int, patient_id: int, errors: list[FieldError]
) -> None:
    patient = session.get(m.Patient, patient_id)
    if patient and not _practitioner_works_at(session, practitioner_id, patient.site_id):
        errors.append(
            FieldError(
                "practitioner_id",
                f"practitioner {practitioner_id} does not work at the patient's site "
                f"{patient.site_id}",
            )
        )


def _training_record(session: Session, values: Values, errors: list[FieldError]) -> None:
    if values.get("organization") == "other" and not values.get("organization_other"):
        errors.append(FieldError("organization_other", "name the organization when it is 'other'"))


def _patient(session: Session, values: Values, errors: list[FieldError]) -> None:
    birth, consent = values.get("birth_date"), values.get("consent_date")
    if birth and consent and consent < birth:
        errors.append(FieldError("consent_date", "is before the birth date"))
    if values.get("consent_status") == "given" and not consent:
        errors.append(FieldError("consent_date", "required when consent_status is 'given'"))


def _condition(session: Session, values: Values, errors: list[FieldError]) -> None:
    patient = session.get(m.Patient, values["patient_id"])
    if patient and patient.birth_date and values["onset_date"] < patient.birth_date:
        errors.append(FieldError("onset_date", "is before the patient's birth date"))


def _belongs_to_patient(
    session: Session, values: Values, field_name: str, model: type[m.Record]
) -> FieldError | None:
    ref_id = values.get(field_name)
    if ref_id is None:
        return None
    record = session.get(model, ref_id)
    if record is not None and getattr(record, "patient_id", None) != values["patient_id"]:
        return FieldError(field_name, f"{ref_id} belongs to another patient")
    return None


def _prior_treatment(session: Session, values: Values, errors: list[FieldError]) -> None:
    problem = _belongs_to_patient(session, values, "condition_id", m.Condition)
    if problem:
        errors.append(problem)


def _course(session: Session, values: Values, errors: list[FieldError]) -> None:
    problem = _belongs_to_patient(session, values, "condition_id", m.Condition)
    if problem:
        errors.append(problem)
    _require_works_at_patient_site(session, values["practitioner_id"], values["patient_id"], errors)
    if values.get("status") == "stopped" and not values.get("stop_reason"):
        errors.append(FieldError("stop_reason", "required when a course is stopped"))
    condition = session.get(m.Condition, values["condition_id"])
    if condition and values["start_date"] < condition.onset_date:
        errors.append(FieldError("start_date", "is before the condition's onset"))


def _session(session: Session, values: Values, errors: list[FieldError]) -> None:
    course = session.get(m.TreatmentCourse, values["course_id"])
    assert course is not None  # references were checked first
    day = values["session_date"]
    if day < course.start_date:
        errors.append(
            FieldError("session_date", f"{day} is before its course starts ({course.start_date})")
        )
    if course.end_date and day > course.end_date:
        errors.append(
            FieldError("session_date", f"{day} is after its course ended ({course.end_date})")
        )
    _require_works_at_patient_site(session, values["practitioner_id"], course.patient_id, errors)
    _check_concentration(session, values, errors)
    _check_targets(session, values, errors)


def _check_concentration(session: Session, values: Values, errors: list[FieldError]) -> None:
    agent = vocabulary.term(session, "agent", values["agent"])
    attrs = agent.attributes if agent else {}
    concentration = values.get("concentration_percent")
    if concentration is None:
        if attrs.get("concentration_required"):
            errors.append(FieldError("concentration_percent", f"required for {values['agent']}"))
        return
    low, high = attrs.get("concentration_min"), attrs.get("concentration_max")
    if low is not None and high is not None and not low <= concentration <= high:
        errors.append(
            FieldError(
                "concentration_percent",
                f"{concentration}% is not plausible for {values['agent']} ({low}–{high}%)",
            )
        )


def _check_targets(session: Session, values: Values, errors: list[FieldError]) -> None:
    for index, target in enumerate(values.get("targets") or []):
        code = target["target"] if isinstance(target, dict) else target.target
        side = target.get("side") if isinstance(target, dict) else target.side
        if vocabulary.term(session, "target", code) is None:
            errors.append(
                FieldError(f"targets[{index}].target", f"{code!r} is not in the vocabulary target")
            )
        if side is not None and vocabulary.term(session, "side", side) is None:
            errors.append(
                FieldError(f"targets[{index}].side", f"{side!r} is not in the vocabulary side")
            )


def _course_event(date_field: str) -> Check:
    def check_event(session: Session, values: Values, errors: list[FieldError]) -> None:
        course = session.get(m.TreatmentCourse, values["course_id"])
        assert course is not None
        if values[date_field] < course.start_date:
            errors.append(FieldError(date_field, "is before the course starts"))
        session_id = values.get("session_id")
        if session_id is not None:
            injection = session.get(m.InjectionSession, session_id)
            if injection is not None and injection.course_id != course.id:
                errors.append(FieldError("session_id", "belongs to another course"))

    return check_event


def _course_of_patient(session: Session, values: Values, errors: list[FieldError]) -> None:
    problem = _belongs_to_patient(session, values, "course_id", m.TreatmentCourse)
    if problem:
        errors.append(problem)


SPECIFIC: dict[str, Check] = {
    "training_record": _training_record,
    "patient": _patient,
    "condition": _condition,
    "prior_treatment": _prior_treatment,
    "treatment_course": _course,
    "injection_session": _session,
    "co_intervention": _course_event("start_date"),
    "adverse_event": _course_event("onset_date"),
    "recurrence": _course_event("event_date"),
    "work_status": _course_of_patient,
    "objective_measure": _course_of_patient,
}


def eligibility_warnings(session: Session, values: Values) -> list[str]:
    """Chronic (≥ 3 months) and at least one failed nonsurgical therapy — warnings, not blocks."""
    warnings: list[str] = []
    condition = session.get(m.Condition, values["condition_id"])
    if condition is not None:
        months = months_between(condition.onset_date, values["start_date"])
        if months < CHRONIC_MONTHS:
            warnings.append(
                f"not chronic: {months} months from onset to the course start "
                f"(eligibility needs at least {CHRONIC_MONTHS})"
            )
    failed_nonsurgical = [
        t
        for t in session.scalars(
            select(m.PriorTreatment).where(
                m.PriorTreatment.patient_id == values["patient_id"],
                m.PriorTreatment.result == "failed",
                m.PriorTreatment.retired_at.is_(None),
            )
        )
        if t.condition_id in (None, values["condition_id"])
        and (term := vocabulary.term(session, "prior_treatment_type", t.treatment_type))
        and term.attributes.get("nonsurgical", True)
    ]
    if not failed_nonsurgical:
        warnings.append(
            "no documented failed nonsurgical therapy for this condition "
            "(eligibility needs at least one)"
        )
    return warnings

"""Factories that build clinical records through the service layer (rules and audit included)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from prolo.registry import models as m
from prolo.registry import schemas as s
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from prolo.security.principal import system

ACTOR = system("tester")
_serial = itertools.count(1)


def days_ago(days: int) -> dt.date:
    return dt.date.today() - dt.timedelta(days=days)


def _create(db: Session, name: str, /, **values: Any) -> Any:
    entity = ENTITIES[name]
    return service.create(db, entity, entity.create(**values), actor=ACTOR)


def site(db: Session, **overrides: Any) -> m.Site:
    n = next(_serial)
    return _create(db, "site", **{"code": f"S{n}", "name": f"Spine clinic {n}", **overrides})  # type: ignore[no-any-return]


def practitioner(db: Session, *, at: m.Site | None = None, **overrides: Any) -> m.Practitioner:
    n = next(_serial)
    values = {
        "name": f"Dr Practitioner {n}",
        "degree": "MD",
        "specialty": "pmr",
        "years_in_practice": 12,
        "prior_prolotherapy_procedures": 300,
        **overrides,
    }
    record: m.Practitioner = _create(db, "practitioner", **values)
    if at is not None:
        _create(db, "practitioner_site", practitioner_id=record.id, site_id=at.id)
    return record


def patient(db: Session, *, at: m.Site, **overrides: Any) -> m.Patient:
    n = next(_serial)
    values = {
        "site_id": at.id,
        "external_id": f"MRN{n:06d}",
        "given_name": "Alex",
        "family_name": f"Patient{n}",
        "birth_date": dt.date(1970, 5, 17),
        "sex": "female",
        "email": f"patient{n}@example.org",
        "consent_status": "given",
        "consent_date": days_ago(400),
        **overrides,
    }
    return _create(db, "patient", **values)  # type: ignore[no-any-return]


def condition(db: Session, *, of: m.Patient, **overrides: Any) -> m.Condition:
    values = {
        "patient_id": of.id,
        "icd10_code": "M54.59",
        "region": "lumbar",
        "onset_date": days_ago(700),
        "diagnosis_confirmation": "anesthetic_block",
        **overrides,
    }
    return _create(db, "condition", **values)  # type: ignore[no-any-return]


def prior_treatment(db: Session, *, of: m.Condition, **overrides: Any) -> m.PriorTreatment:
    values = {
        "patient_id": of.patient_id,
        "condition_id": of.id,
        "treatment_type": "physical_therapy",
        "start_date": days_ago(500),
        "end_date": days_ago(450),
        "result": "failed",
        **overrides,
    }
    return _create(db, "prior_treatment", **values)  # type: ignore[no-any-return]


def course(
    db: Session, *, of: m.Condition, by: m.Practitioner, **overrides: Any
) -> m.TreatmentCourse:
    values = {
        "patient_id": of.patient_id,
        "condition_id": of.id,
        "practitioner_id": by.id,
        "start_date": days_ago(300),
        "planned_sessions": 4,
        **overrides,
    }
    return _create(db, "treatment_course", **values)  # type: ignore[no-any-return]


def injection_session(
    db: Session, *, of: m.TreatmentCourse, **overrides: Any
) -> m.InjectionSession:
    values = {
        "course_id": of.id,
        "practitioner_id": of.practitioner_id,
        "session_date": of.start_date,
        "agent": "dextrose",
        "concentration_percent": 15.0,
        "anesthetic": "lidocaine",
        "total_volume_ml": 20.0,
        "injection_count": 12,
        "guidance": "landmark",
        "targets": [
            {"target": "iliolumbar_ligament", "side": "bilateral"},
            {"target": "interspinous_ligament", "levels": ["L4-L5", "L5-S1"], "side": "midline"},
        ],
        **overrides,
    }
    return _create(db, "injection_session", **values)  # type: ignore[no-any-return]


def treated_patient(db: Session, at: m.Site | None = None) -> dict[str, Any]:
    """A whole eligible record: site, practitioner, patient, condition, failed care, course."""
    at = at or site(db)
    doctor = practitioner(db, at=at)
    person = patient(db, at=at)
    diagnosis = condition(db, of=person)
    prior = prior_treatment(db, of=diagnosis)
    treatment = course(db, of=diagnosis, by=doctor)
    return {
        "prior_treatment": prior,
        "site": at,
        "practitioner": doctor,
        "patient": person,
        "condition": diagnosis,
        "course": treatment,
    }


__all__ = ["s"]

"""Every business rule of the record, through the service: the rejected input and its message."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prolo.errors import Conflict, DomainError
from prolo.registry import models as m
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from prolo.security.principal import system
from tests import factories as f


def create(db: Session, name: str, **values: Any) -> Any:
    entity = ENTITIES[name]
    return service.create(db, entity, entity.create(**values), actor=f.ACTOR)


def reasons(error: pytest.ExceptionInfo[DomainError]) -> dict[str, str]:
    return {e.field: e.reason for e in error.value.errors}


def test_no_dates_in_the_future(db: Session) -> None:
    ctx = f.treated_patient(db)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(DomainError) as error:
        f.condition(db, of=ctx["patient"], onset_date=tomorrow)
    assert reasons(error) == {"onset_date": f"{tomorrow} is in the future"}


def test_session_not_before_its_course_starts(db: Session) -> None:
    course = f.treated_patient(db)["course"]
    early = course.start_date - dt.timedelta(days=1)
    with pytest.raises(DomainError) as error:
        f.injection_session(db, of=course, session_date=early)
    assert reasons(error) == {
        "session_date": f"{early} is before its course starts ({course.start_date})"
    }


def test_session_not_after_its_course_ended(db: Session) -> None:
    ctx = f.treated_patient(db)
    ended = f.course(
        db,
        of=ctx["condition"],
        by=ctx["practitioner"],
        end_date=f.days_ago(100),
        status="completed",
    )
    late = f.days_ago(50)
    with pytest.raises(DomainError) as error:
        f.injection_session(db, of=ended, session_date=late)
    assert reasons(error) == {
        "session_date": f"{late} is after its course ended ({ended.end_date})"
    }


def test_course_practitioner_works_at_the_patients_site(db: Session) -> None:
    ctx = f.treated_patient(db)
    elsewhere = f.practitioner(db, at=f.site(db))
    with pytest.raises(DomainError) as error:
        f.course(db, of=ctx["condition"], by=elsewhere)
    assert reasons(error) == {
        "practitioner_id": f"practitioner {elsewhere.id} does not work at the patient's site "
        f"{ctx['site'].id}"
    }


@pytest.mark.parametrize(
    ("agent", "concentration", "reason"),
    [
        ("dextrose", 60.0, "60.0% is not plausible for dextrose (5–50%)"),
        ("dextrose", 2.0, "2.0% is not plausible for dextrose (5–50%)"),
        ("dextrose", None, "required for dextrose"),
        ("sodium_morrhuate", 10.0, "10.0% is not plausible for sodium_morrhuate (0.5–5%)"),
    ],
)
def test_concentration_plausible_for_the_agent(
    db: Session, agent: str, concentration: float | None, reason: str
) -> None:
    course = f.treated_patient(db)["course"]
    with pytest.raises(DomainError) as error:
        f.injection_session(db, of=course, agent=agent, concentration_percent=concentration)
    assert reasons(error) == {"concentration_percent": reason}


def test_platelet_rich_plasma_needs_no_concentration(db: Session) -> None:
    course = f.treated_patient(db)["course"]
    record = f.injection_session(db, of=course, agent="prp", concentration_percent=None)
    assert record.agent == "prp"


@pytest.mark.parametrize("volume", [0, -1.5])
def test_volume_must_be_positive(db: Session, volume: float) -> None:
    course = f.treated_patient(db)["course"]
    with pytest.raises(ValidationError) as error:
        f.injection_session(db, of=course, total_volume_ml=volume)
    assert error.value.errors()[0]["loc"] == ("total_volume_ml",)
    assert error.value.errors()[0]["msg"] == "Input should be greater than 0"


@pytest.mark.parametrize("grade", [0, 6])
def test_adverse_event_grade_is_1_to_5(db: Session, grade: int) -> None:
    course = f.treated_patient(db)["course"]
    with pytest.raises(ValidationError) as error:
        create(
            db,
            "adverse_event",
            course_id=course.id,
            event_type="bruising",
            grade=grade,
            onset_date=course.start_date,
        )
    assert error.value.errors()[0]["loc"] == ("grade",)


def test_unknown_vocabulary_code_lists_the_allowed_ones(db: Session) -> None:
    person = f.treated_patient(db)["patient"]
    with pytest.raises(DomainError) as error:
        f.condition(db, of=person, region="cranial")
    assert reasons(error) == {
        "region": "'cranial' is not in the vocabulary region "
        "(cervical, thoracic, lumbar, sacroiliac_pelvic)"
    }


def test_unknown_injection_target_is_named_by_position(db: Session) -> None:
    course = f.treated_patient(db)["course"]
    with pytest.raises(DomainError) as error:
        f.injection_session(
            db, of=course, targets=[{"target": "iliolumbar_ligament"}, {"target": "knee"}]
        )
    assert reasons(error) == {"targets[1].target": "'knee' is not in the vocabulary target"}


def test_references_must_exist_and_be_active(db: Session) -> None:
    ctx = f.treated_patient(db)
    with pytest.raises(DomainError) as error:
        f.condition(db, of=ctx["patient"], patient_id=987654)
    assert reasons(error) == {"patient_id": "no patient with id 987654"}
    service.retire(db, ENTITIES["patient"], ctx["patient"].id, reason="duplicate", actor=f.ACTOR)
    with pytest.raises(DomainError) as error:
        f.condition(db, of=ctx["patient"])
    assert reasons(error) == {"patient_id": f"patient {ctx['patient'].id} is retired"}


@pytest.mark.parametrize("code", ["M54.50", "M53.2X6", "S33.5", "M51.16", "G89.29"])
def test_icd10_codes_beyond_the_starting_list_are_accepted(db: Session, code: str) -> None:
    person = f.treated_patient(db)["patient"]
    assert f.condition(db, of=person, icd10_code=code.lower()).icd10_code == code


@pytest.mark.parametrize("code", ["M5450", "54.50", "U07.1", "M54.50000", ""])
def test_malformed_icd10_codes_are_rejected(db: Session, code: str) -> None:
    person = f.treated_patient(db)["patient"]
    with pytest.raises(ValidationError) as error:
        f.condition(db, of=person, icd10_code=code)
    assert error.value.errors()[0]["loc"] == ("icd10_code",)


def test_stopped_course_needs_a_reason(db: Session) -> None:
    ctx = f.treated_patient(db)
    with pytest.raises(DomainError) as error:
        f.course(db, of=ctx["condition"], by=ctx["practitioner"], status="stopped")
    assert reasons(error) == {"stop_reason": "required when a course is stopped"}


def test_course_condition_belongs_to_the_patient(db: Session) -> None:
    ctx = f.treated_patient(db)
    other = f.condition(db, of=f.patient(db, at=ctx["site"]))
    with pytest.raises(DomainError) as error:
        f.course(db, of=ctx["condition"], by=ctx["practitioner"], condition_id=other.id)
    assert reasons(error) == {"condition_id": f"{other.id} belongs to another patient"}


def test_adverse_event_session_belongs_to_the_course(db: Session) -> None:
    ctx = f.treated_patient(db)
    second = f.course(db, of=ctx["condition"], by=ctx["practitioner"])
    injection = f.injection_session(db, of=second)
    with pytest.raises(DomainError) as error:
        create(
            db,
            "adverse_event",
            course_id=ctx["course"].id,
            session_id=injection.id,
            event_type="bruising",
            grade=1,
            onset_date=second.start_date,
        )
    assert reasons(error) == {"session_id": "belongs to another course"}


def test_end_before_start_is_rejected(db: Session) -> None:
    ctx = f.treated_patient(db)
    with pytest.raises(DomainError) as error:
        f.course(db, of=ctx["condition"], by=ctx["practitioner"], end_date=f.days_ago(400))
    assert list(reasons(error)) == ["end_date"]


def test_eligible_course_has_no_warnings(db: Session) -> None:
    assert f.treated_patient(db)["course"].eligibility_warnings == []


def test_ineligible_course_is_stored_with_warnings_not_blocked(db: Session) -> None:
    at = f.site(db)
    doctor = f.practitioner(db, at=at)
    diagnosis = f.condition(db, of=f.patient(db, at=at), onset_date=f.days_ago(40))
    f.prior_treatment(db, of=diagnosis, treatment_type="surgery")  # surgery is not nonsurgical
    course = f.course(db, of=diagnosis, by=doctor, start_date=f.days_ago(10))
    assert course.eligibility_warnings == [
        "not chronic: 0 months from onset to the course start (eligibility needs at least 3)",
        "no documented failed nonsurgical therapy for this condition "
        "(eligibility needs at least one)",
    ]
    assert db.get(m.TreatmentCourse, course.id) is not None


def test_every_change_is_audited_with_before_after_and_reason(db: Session) -> None:
    person = f.treated_patient(db)["patient"]
    entity = ENTITIES["patient"]
    service.update(
        db,
        entity,
        person.id,
        entity.update(phone="+1 555 0100", reason="patient called"),
        actor=system("coordinator1"),
    )
    entry = db.scalars(
        select(m.AuditEntry)
        .where(m.AuditEntry.entity == "patient", m.AuditEntry.entity_id == person.id)
        .order_by(m.AuditEntry.id.desc())
    ).first()
    assert entry is not None
    assert (entry.action, entry.actor, entry.reason) == ("update", "coordinator1", "patient called")
    assert entry.before is not None and entry.after is not None
    assert entry.before["phone"] is None and entry.after["phone"] == "+1 555 0100"


def test_retired_records_cannot_change_or_retire_twice(db: Session) -> None:
    person = f.treated_patient(db)["patient"]
    entity = ENTITIES["patient"]
    service.retire(db, entity, person.id, reason="duplicate", actor=f.ACTOR)
    with pytest.raises(Conflict):
        service.retire(db, entity, person.id, reason="again", actor=f.ACTOR)
    with pytest.raises(Conflict):
        service.update(
            db, entity, person.id, entity.update(sex="male", reason="fix"), actor=f.ACTOR
        )


def test_rejected_change_writes_nothing(db: Session) -> None:
    course = f.treated_patient(db)["course"]
    counts = [
        db.scalar(select(func.count()).select_from(t)) for t in (m.InjectionSession, m.AuditEntry)
    ]
    with pytest.raises(DomainError):
        f.injection_session(db, of=course, concentration_percent=99.0)
    after = [
        db.scalar(select(func.count()).select_from(t)) for t in (m.InjectionSession, m.AuditEntry)
    ]
    assert after == counts


def test_update_reason_is_required() -> None:
    with pytest.raises(ValidationError) as error:
        ENTITIES["patient"].update(sex="male")  # type: ignore[call-arg]
    assert error.value.errors()[0]["loc"] == ("reason",)


def test_phi_is_marked_in_the_model() -> None:
    from prolo.registry.models import phi_columns

    assert set(phi_columns(m.Patient)) == {
        "external_id",
        "given_name",
        "family_name",
        "birth_date",
        "email",
        "phone",
    }

"""A valid create and update body for every entity, built around one treated patient."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.registry import models as m
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from tests import factories as f

_serial = itertools.count(1)


def every_entity(
    db: Session, at: m.Site | None = None
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Entity name → (create body, update body), all valid, referring to fresh records."""
    return {name: (create, update) for name, (create, update, _) in world(db, at).items()}


def world(
    db: Session, at: m.Site | None = None
) -> dict[str, tuple[dict[str, Any], dict[str, Any], int]]:
    """Entity name → (create body, update body, id of an existing record of that kind).

    Everything hangs off one treated patient at ``at`` (a new site when None), so the bodies
    and records are all at that one site.
    """
    ctx = f.treated_patient(db, at)
    site, doctor, person = ctx["site"], ctx["practitioner"], ctx["patient"]
    diagnosis, treatment = ctx["condition"], ctx["course"]
    injection = f.injection_session(db, of=treatment)
    day = f.days_ago(200).isoformat()
    n = next(_serial)
    newcomer = f.practitioner(db)
    bodies: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "site": ({"code": f"NEW{n}", "name": "North clinic"}, {"name": "North spine"}),
        "practitioner": (
            {
                "name": "Dr New",
                "degree": "DO",
                "specialty": "sports_medicine",
                "years_in_practice": 3,
            },
            {"years_in_practice": 4},
        ),
        "practitioner_site": ({"practitioner_id": newcomer.id, "site_id": site.id}, {}),
        "training_record": (
            {
                "practitioner_id": doctor.id,
                "organization": "AAOM",
                "course": "Prolotherapy of the low back",
                "completed_on": f.days_ago(1000).isoformat(),
                "hours": 16,
                "certificate_id": "AAOM-2024-17",
            },
            {"verified": True},
        ),
        "patient": (
            {
                "site_id": site.id,
                "external_id": f"NEWMRN{n}",
                "sex": "male",
                "consent_status": "pending",
            },
            {"consent_status": "given", "consent_date": day},
        ),
        "condition": (
            {
                "patient_id": person.id,
                "icd10_code": "S33.6",
                "region": "sacroiliac_pelvic",
                "onset_date": f.days_ago(900).isoformat(),
                "diagnosis_confirmation": "palpation_provocation",
            },
            {"diagnosis_confirmation": "anesthetic_block"},
        ),
        "prior_treatment": (
            {"patient_id": person.id, "treatment_type": "nsaid", "result": "partial"},
            {"result": "failed"},
        ),
        "treatment_course": (
            {
                "patient_id": person.id,
                "condition_id": diagnosis.id,
                "practitioner_id": doctor.id,
                "start_date": f.days_ago(250).isoformat(),
                "planned_sessions": 6,
            },
            {"status": "stopped", "stop_reason": "moved away", "end_date": day},
        ),
        "injection_session": (
            {
                "course_id": treatment.id,
                "practitioner_id": doctor.id,
                "session_date": day,
                "agent": "dextrose",
                "concentration_percent": 20,
                "anesthetic": "procaine",
                "total_volume_ml": 15.5,
                "injection_count": 10,
                "guidance": "ultrasound",
                "targets": [{"target": "long_posterior_sacroiliac_ligament", "side": "left"}],
            },
            {"total_volume_ml": 18},
        ),
        "co_intervention": (
            {
                "course_id": treatment.id,
                "intervention_type": "exercise_programme",
                "start_date": day,
                "adherence_percent": 70,
            },
            {"adherence_percent": 55},
        ),
        "adverse_event": (
            {
                "course_id": treatment.id,
                "session_id": injection.id,
                "event_type": "pain_flare",
                "grade": 1,
                "onset_date": day,
            },
            {"resolution_date": day},
        ),
        "recurrence": (
            {"course_id": treatment.id, "kind": "recurrence", "event_date": day},
            {"kind": "reinjury"},
        ),
        "work_status": (
            {
                "patient_id": person.id,
                "course_id": treatment.id,
                "recorded_on": day,
                "status": "sick_leave",
            },
            {"status": "working_reduced"},
        ),
        "objective_measure": (
            {
                "patient_id": person.id,
                "course_id": treatment.id,
                "measured_on": day,
                "measure_type": "ligament_thickness_us",
                "value": 3.4,
                "unit": "mm",
                "method": "ultrasound",
                "structure": "iliolumbar_ligament",
                "side": "left",
            },
            {"value": 3.6},
        ),
    }
    existing = {
        "site": site.id,
        "practitioner": doctor.id,
        "practitioner_site": db.scalars(
            select(m.PractitionerSite.id).where(m.PractitionerSite.practitioner_id == doctor.id)
        ).one(),
        "patient": person.id,
        "condition": diagnosis.id,
        "prior_treatment": ctx["prior_treatment"].id,
        "treatment_course": treatment.id,
        "injection_session": injection.id,
    }
    for name in ENTITIES:
        if name not in existing:
            entity = ENTITIES[name]
            record = service.create(db, entity, entity.create(**bodies[name][0]), actor=f.ACTOR)
            existing[name] = record.id
    return {name: (*bodies[name], existing[name]) for name in ENTITIES}

"""The catalogue of clinical entities: each one's table, schemas, vocabulary fields and links.

The service and the API are written once over this catalogue, so every entity gets the same
verbs (create, get, list, update, retire) and the same audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from prolo.registry import models as m
from prolo.registry import schemas as s


@dataclass(frozen=True)
class Entity:
    name: str
    path: str
    model: type[m.Record]
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    # field -> vocabulary whose active codes it must hold
    vocabulary_fields: dict[str, str] = field(default_factory=dict)
    # field -> entity name it refers to
    references: dict[str, str] = field(default_factory=dict)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        Entity("site", "sites", m.Site, s.SiteCreate, s.SiteUpdate, s.SiteRead),
        Entity(
            "practitioner",
            "practitioners",
            m.Practitioner,
            s.PractitionerCreate,
            s.PractitionerUpdate,
            s.PractitionerRead,
            vocabulary_fields={"degree": "degree", "specialty": "specialty"},
        ),
        Entity(
            "practitioner_site",
            "practitioner-sites",
            m.PractitionerSite,
            s.PractitionerSiteCreate,
            s.PractitionerSiteUpdate,
            s.PractitionerSiteRead,
            references={"practitioner_id": "practitioner", "site_id": "site"},
        ),
        Entity(
            "training_record",
            "training-records",
            m.TrainingRecord,
            s.TrainingRecordCreate,
            s.TrainingRecordUpdate,
            s.TrainingRecordRead,
            vocabulary_fields={"organization": "training_organization"},
            references={"practitioner_id": "practitioner"},
        ),
        Entity(
            "patient",
            "patients",
            m.Patient,
            s.PatientCreate,
            s.PatientUpdate,
            s.PatientRead,
            vocabulary_fields={"sex": "sex", "consent_status": "consent_status"},
            references={"site_id": "site"},
        ),
        Entity(
            "condition",
            "conditions",
            m.Condition,
            s.ConditionCreate,
            s.ConditionUpdate,
            s.ConditionRead,
            vocabulary_fields={
                "region": "region",
                "diagnosis_confirmation": "diagnosis_confirmation",
            },
            references={"patient_id": "patient"},
        ),
        Entity(
            "prior_treatment",
            "prior-treatments",
            m.PriorTreatment,
            s.PriorTreatmentCreate,
            s.PriorTreatmentUpdate,
            s.PriorTreatmentRead,
            vocabulary_fields={
                "treatment_type": "prior_treatment_type",
                "result": "prior_treatment_result",
            },
            references={"patient_id": "patient", "condition_id": "condition"},
        ),
        Entity(
            "treatment_course",
            "courses",
            m.TreatmentCourse,
            s.TreatmentCourseCreate,
            s.TreatmentCourseUpdate,
            s.TreatmentCourseRead,
            vocabulary_fields={"status": "course_status"},
            references={
                "patient_id": "patient",
                "condition_id": "condition",
                "practitioner_id": "practitioner",
            },
        ),
        Entity(
            "injection_session",
            "sessions",
            m.InjectionSession,
            s.InjectionSessionCreate,
            s.InjectionSessionUpdate,
            s.InjectionSessionRead,
            vocabulary_fields={
                "agent": "agent",
                "anesthetic": "anesthetic",
                "guidance": "guidance",
            },
            references={"course_id": "treatment_course", "practitioner_id": "practitioner"},
        ),
        Entity(
            "co_intervention",
            "co-interventions",
            m.CoIntervention,
            s.CoInterventionCreate,
            s.CoInterventionUpdate,
            s.CoInterventionRead,
            vocabulary_fields={"intervention_type": "co_intervention_type"},
            references={"course_id": "treatment_course"},
        ),
        Entity(
            "adverse_event",
            "adverse-events",
            m.AdverseEvent,
            s.AdverseEventCreate,
            s.AdverseEventUpdate,
            s.AdverseEventRead,
            vocabulary_fields={"event_type": "adverse_event_type"},
            references={"course_id": "treatment_course", "session_id": "injection_session"},
        ),
        Entity(
            "recurrence",
            "recurrences",
            m.Recurrence,
            s.RecurrenceCreate,
            s.RecurrenceUpdate,
            s.RecurrenceRead,
            vocabulary_fields={"kind": "recurrence_kind"},
            references={"course_id": "treatment_course"},
        ),
        Entity(
            "work_status",
            "work-statuses",
            m.WorkStatus,
            s.WorkStatusCreate,
            s.WorkStatusUpdate,
            s.WorkStatusRead,
            vocabulary_fields={"status": "work_status"},
            references={"patient_id": "patient", "course_id": "treatment_course"},
        ),
        Entity(
            "objective_measure",
            "objective-measures",
            m.ObjectiveMeasure,
            s.ObjectiveMeasureCreate,
            s.ObjectiveMeasureUpdate,
            s.ObjectiveMeasureRead,
            vocabulary_fields={
                "measure_type": "objective_measure_type",
                "method": "measure_method",
                "structure": "target",
                "side": "side",
            },
            references={"patient_id": "patient", "course_id": "treatment_course"},
        ),
    ]
}


def entity(name: str) -> Entity:
    return ENTITIES[name]

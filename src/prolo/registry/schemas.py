"""Request and response shapes of the clinical record: ``XCreate``, ``XUpdate``, ``XRead``.

Shape and range checks live here (validated at the edge); rules that need the database
(vocabularies, cross-record consistency, dates against a course) live in ``rules.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from prolo.storable import Storable

ICD10_CM = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")


def _icd10(code: str) -> str:
    code = code.strip().upper()
    if not ICD10_CM.match(code):
        raise ValueError(
            "not an ICD-10-CM code: a letter, two characters, then optionally a dot and up to "
            "four characters (e.g. M54.50, S33.5, M53.2X6)"
        )
    return code


Icd10Code = Annotated[str, AfterValidator(_icd10)]
Text = Annotated[str, Field(min_length=1, max_length=255)]
Code = Annotated[str, Field(min_length=1, max_length=128)]


class Schema(Storable):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    retired_at: dt.datetime | None = None
    retired_reason: str | None = None


class UpdateSchema(Schema):
    """Every update of clinical data says why; the reason goes into the audit trail."""

    reason: str = Field(min_length=3, max_length=2000, description="Why the record changes.")


class RetireRequest(Schema):
    reason: str = Field(min_length=3, max_length=2000, description="Why the record is retired.")


# --- sites -------------------------------------------------------------------------------


class SiteCreate(Schema):
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Text


class SiteUpdate(UpdateSchema):
    name: Text | None = None


class SiteRead(ReadSchema):
    code: str
    name: str


# --- practitioners -----------------------------------------------------------------------


class PractitionerCreate(Schema):
    name: Text
    degree: Code
    specialty: Code
    years_in_practice: int = Field(ge=0, le=70)
    prior_prolotherapy_procedures: int = Field(default=0, ge=0, le=1_000_000)


class PractitionerUpdate(UpdateSchema):
    name: Text | None = None
    degree: Code | None = None
    specialty: Code | None = None
    years_in_practice: int | None = Field(default=None, ge=0, le=70)
    prior_prolotherapy_procedures: int | None = Field(default=None, ge=0, le=1_000_000)


class PractitionerRead(ReadSchema):
    name: str
    degree: str
    specialty: str
    years_in_practice: int
    prior_prolotherapy_procedures: int


class PractitionerSiteCreate(Schema):
    practitioner_id: int
    site_id: int


class PractitionerSiteUpdate(UpdateSchema):
    pass


class PractitionerSiteRead(ReadSchema):
    practitioner_id: int
    site_id: int


class TrainingRecordCreate(Schema):
    practitioner_id: int
    organization: Code
    organization_other: Text | None = None
    course: Text
    completed_on: dt.date
    hours: float = Field(gt=0, le=10_000)
    certificate_id: Annotated[str, Field(max_length=128)] | None = None
    verified: bool = False


class TrainingRecordUpdate(UpdateSchema):
    organization: Code | None = None
    organization_other: Text | None = None
    course: Text | None = None
    completed_on: dt.date | None = None
    hours: float | None = Field(default=None, gt=0, le=10_000)
    certificate_id: Annotated[str, Field(max_length=128)] | None = None
    verified: bool | None = None


class TrainingRecordRead(ReadSchema):
    practitioner_id: int
    organization: str
    organization_other: str | None
    course: str
    completed_on: dt.date
    hours: float
    certificate_id: str | None
    verified: bool


# --- patients ----------------------------------------------------------------------------


class PatientCreate(Schema):
    site_id: int
    external_id: Annotated[str, Field(min_length=1, max_length=64)]
    given_name: Text | None = None
    family_name: Text | None = None
    birth_date: dt.date | None = None
    sex: Code
    email: EmailStr | None = None
    phone: Annotated[str, Field(max_length=64, pattern=r"^[0-9 +().-]{5,}$")] | None = None
    consent_status: Code
    consent_date: dt.date | None = None


class PatientUpdate(UpdateSchema):
    given_name: Text | None = None
    family_name: Text | None = None
    birth_date: dt.date | None = None
    sex: Code | None = None
    email: EmailStr | None = None
    phone: Annotated[str, Field(max_length=64, pattern=r"^[0-9 +().-]{5,}$")] | None = None
    consent_status: Code | None = None
    consent_date: dt.date | None = None


class PatientRead(ReadSchema):
    site_id: int
    external_id: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date | None
    sex: str
    email: str | None
    phone: str | None
    consent_status: str
    consent_date: dt.date | None


# --- conditions and prior care -----------------------------------------------------------


class ConditionCreate(Schema):
    patient_id: int
    icd10_code: Icd10Code
    region: Code
    onset_date: dt.date
    diagnosis_confirmation: Code
    notes: Annotated[str, Field(max_length=5000)] | None = None


class ConditionUpdate(UpdateSchema):
    icd10_code: Icd10Code | None = None
    region: Code | None = None
    onset_date: dt.date | None = None
    diagnosis_confirmation: Code | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None


class ConditionRead(ReadSchema):
    patient_id: int
    icd10_code: str
    region: str
    onset_date: dt.date
    diagnosis_confirmation: str
    notes: str | None


class PriorTreatmentCreate(Schema):
    patient_id: int
    condition_id: int | None = None
    treatment_type: Code
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    result: Code


class PriorTreatmentUpdate(UpdateSchema):
    treatment_type: Code | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    result: Code | None = None


class PriorTreatmentRead(ReadSchema):
    patient_id: int
    condition_id: int | None
    treatment_type: str
    start_date: dt.date | None
    end_date: dt.date | None
    result: str


# --- courses and sessions ----------------------------------------------------------------


class TreatmentCourseCreate(Schema):
    patient_id: int
    condition_id: int
    practitioner_id: int
    start_date: dt.date
    end_date: dt.date | None = None
    planned_sessions: int = Field(ge=1, le=100)
    status: Code = "active"
    stop_reason: Annotated[str, Field(max_length=2000)] | None = None


class TreatmentCourseUpdate(UpdateSchema):
    practitioner_id: int | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    planned_sessions: int | None = Field(default=None, ge=1, le=100)
    status: Code | None = None
    stop_reason: Annotated[str, Field(max_length=2000)] | None = None


class TreatmentCourseRead(ReadSchema):
    patient_id: int
    condition_id: int
    practitioner_id: int
    start_date: dt.date
    end_date: dt.date | None
    planned_sessions: int
    status: str
    stop_reason: str | None
    eligibility_warnings: list[str]


class InjectionTarget(Schema):
    target: Code
    levels: list[
        Annotated[
            str,
            Field(
                pattern=r"^(C[1-7]|T([1-9]|1[0-2])|L[1-5]|S[1-5])(-(C[1-7]|T([1-9]|1[0-2])|L[1-5]|S[1-5]))?$"
            ),
        ]
    ] = Field(default_factory=list)
    side: Code | None = None


class InjectionSessionCreate(Schema):
    course_id: int
    practitioner_id: int
    session_date: dt.date
    agent: Code
    concentration_percent: float | None = Field(default=None, gt=0, le=100)
    anesthetic: Code
    total_volume_ml: float = Field(gt=0, le=500)
    injection_count: int = Field(ge=1, le=500)
    guidance: Code
    targets: list[InjectionTarget] = Field(min_length=1)


class InjectionSessionUpdate(UpdateSchema):
    practitioner_id: int | None = None
    session_date: dt.date | None = None
    agent: Code | None = None
    concentration_percent: float | None = Field(default=None, gt=0, le=100)
    anesthetic: Code | None = None
    total_volume_ml: float | None = Field(default=None, gt=0, le=500)
    injection_count: int | None = Field(default=None, ge=1, le=500)
    guidance: Code | None = None
    targets: list[InjectionTarget] | None = Field(default=None, min_length=1)


class InjectionSessionRead(ReadSchema):
    course_id: int
    practitioner_id: int
    session_date: dt.date
    agent: str
    concentration_percent: float | None
    anesthetic: str
    total_volume_ml: float
    injection_count: int
    guidance: str
    targets: list[dict[str, Any]]


class CoInterventionCreate(Schema):
    course_id: int
    intervention_type: Code
    start_date: dt.date
    end_date: dt.date | None = None
    adherence_percent: float | None = Field(default=None, ge=0, le=100)
    notes: Annotated[str, Field(max_length=5000)] | None = None


class CoInterventionUpdate(UpdateSchema):
    intervention_type: Code | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    adherence_percent: float | None = Field(default=None, ge=0, le=100)
    notes: Annotated[str, Field(max_length=5000)] | None = None


class CoInterventionRead(ReadSchema):
    course_id: int
    intervention_type: str
    start_date: dt.date
    end_date: dt.date | None
    adherence_percent: float | None
    notes: str | None


# --- events and measures -----------------------------------------------------------------


class AdverseEventCreate(Schema):
    course_id: int
    session_id: int | None = None
    event_type: Code
    grade: int = Field(ge=1, le=5, description="Severity grade 1 (mild) to 5 (death).")
    serious: bool = False
    onset_date: dt.date
    resolution_date: dt.date | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None


class AdverseEventUpdate(UpdateSchema):
    session_id: int | None = None
    event_type: Code | None = None
    grade: int | None = Field(default=None, ge=1, le=5)
    serious: bool | None = None
    onset_date: dt.date | None = None
    resolution_date: dt.date | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None


class AdverseEventRead(ReadSchema):
    course_id: int
    session_id: int | None
    event_type: str
    grade: int
    serious: bool
    onset_date: dt.date
    resolution_date: dt.date | None
    description: str | None


class RecurrenceCreate(Schema):
    course_id: int
    kind: Code
    event_date: dt.date
    description: Annotated[str, Field(max_length=5000)] | None = None


class RecurrenceUpdate(UpdateSchema):
    kind: Code | None = None
    event_date: dt.date | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None


class RecurrenceRead(ReadSchema):
    course_id: int
    kind: str
    event_date: dt.date
    description: str | None


class WorkStatusCreate(Schema):
    patient_id: int
    course_id: int | None = None
    recorded_on: dt.date
    status: Code


class WorkStatusUpdate(UpdateSchema):
    recorded_on: dt.date | None = None
    status: Code | None = None


class WorkStatusRead(ReadSchema):
    patient_id: int
    course_id: int | None
    recorded_on: dt.date
    status: str


class ObjectiveMeasureCreate(Schema):
    patient_id: int
    course_id: int | None = None
    measured_on: dt.date
    measure_type: Code
    value: float | None = None
    unit: Annotated[str, Field(max_length=32)] | None = None
    method: Code
    structure: Code | None = None
    side: Code | None = None
    finding: Annotated[str, Field(max_length=5000)] | None = None


class ObjectiveMeasureUpdate(UpdateSchema):
    measured_on: dt.date | None = None
    measure_type: Code | None = None
    value: float | None = None
    unit: Annotated[str, Field(max_length=32)] | None = None
    method: Code | None = None
    structure: Code | None = None
    side: Code | None = None
    finding: Annotated[str, Field(max_length=5000)] | None = None


class ObjectiveMeasureRead(ReadSchema):
    patient_id: int
    course_id: int | None
    measured_on: dt.date
    measure_type: str
    value: float | None
    unit: str | None
    method: str
    structure: str | None
    side: str | None
    finding: str | None


# --- vocabularies and audit --------------------------------------------------------------


class VocabularyTermCreate(Schema):
    vocabulary: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]
    code: Code
    label: Text
    attributes: dict[str, Any] = Field(default_factory=dict)


class VocabularyTermRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    vocabulary: str
    code: str
    label: str
    attributes: dict[str, Any]
    active: bool


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None

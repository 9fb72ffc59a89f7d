"""HL7 FHIR R4 out and in: the registry as a Bundle (type collection), and such a Bundle back.

Every registry row becomes one resource whose id carries the row's id, so that a Bundle read
back gives the same registry (``prolo import fhir`` goes through the bulk import path and its
rules). Standard elements hold what FHIR has a place for; the rest is in extensions under
:data:`BASE` (docs/exchange.md lists them). Resources are built as plain JSON and validated with
``fhir.resources.R4B`` (its default models are R5); that library checks structure, not codes,
so every coding is also checked against its value set (:class:`ValueSets`): the registry's
vocabularies, ICD-10-CM, and the FHIR value sets the resources use.

The registry export is written patient chunk by patient chunk and the import reads the Bundle
entry by entry (ijson), so neither holds the whole registry in memory.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd
from sqlalchemy import Connection, Engine, select

from prolo.assessments.models import Assessment
from prolo.instruments.definitions import catalogue
from prolo.interop.problems import Rejection
from prolo.registry import models as m
from prolo.registry.schemas import ICD10_CM

BASE = "http://prolo-outcomes.org/fhir"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
UCUM = "http://unitsofmeasure.org"
NRS_LOINC = "72514-3"  # Pain severity - 0-10 verbal numeric rating [Score] - Reported
PATIENTS_PER_READ = 2_000

# Registry missing codes ↔ data-absent-reason (the code system FHIR uses for missing answers).
ABSENT_OF = {"not_asked": "not-asked", "missing": "asked-unknown", "refused": "asked-declined"}
MISSING_OF = {v: k for k, v in ABSENT_OF.items()}
# Registry course status ↔ EpisodeOfCare.status (a one-to-one choice).
EPISODE_STATUS = {
    "planned": "planned",
    "active": "active",
    "completed": "finished",
    "stopped": "cancelled",
}
COURSE_STATUS = {v: k for k, v in EPISODE_STATUS.items()}
# Prefixes of resource ids where one resource type holds rows of several tables.
PREFIX = {
    "prior_treatments": ("Procedure", "prior-"),
    "injection_sessions": ("Procedure", "session-"),
    "co_interventions": ("Procedure", "cointervention-"),
    "recurrences": ("Observation", "recurrence-"),
    "work_statuses": ("Observation", "work-"),
    "objective_measures": ("Observation", "measure-"),
}
SCORE_PREFIX = "score-"


def system(vocabulary: str) -> str:
    """The code system of a registry vocabulary."""
    return f"{BASE}/CodeSystem/{vocabulary}"


def ext(name: str) -> str:
    return f"{BASE}/StructureDefinition/{name}"


def coding(vocabulary: str, code: str | None) -> dict[str, Any] | None:
    return None if code is None else {"system": system(vocabulary), "code": code}


def concept(vocabulary: str, code: str | None, text: str | None = None) -> dict[str, Any] | None:
    if code is None:
        return None
    found: dict[str, Any] = {"coding": [coding(vocabulary, code)]}
    if text:
        found["text"] = text
    return found


def ref(kind: str, ident: Any) -> dict[str, str] | None:
    return None if ident is None else {"reference": f"{kind}/{ident}"}


def day(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def x(name: str, kind: str, value: Any) -> dict[str, Any] | None:
    """An extension, or None for an absent value."""
    if value is None:
        return None
    return {"url": ext(name), kind: value}


EMPTY: tuple[Any, ...] = (None, "", [], {})


def clean(value: Any) -> Any:
    """Drop None, empty strings, lists and objects: FHIR has no nulls and no empty values."""
    if isinstance(value, dict):
        out = {k: clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in EMPTY}
    if isinstance(value, list):
        items = [clean(v) for v in value]
        return [v for v in items if v not in EMPTY]
    return value


# --- value sets ---------------------------------------------------------------------------------

FIXED_VALUE_SETS: dict[str, set[str]] = {
    ABSENT: set(MISSING_OF),
    SERIOUSNESS: {"serious", "non-serious"},
    SEVERITY: {"mild", "moderate", "severe"},
    LOINC: {NRS_LOINC},
    system("procedure_category"): {"prolotherapy_session", "prior_treatment", "co_intervention"},
    system("observation"): {"recurrence", "work_status", "objective_measure", "score"},
    system("instrument"): set(),  # filled from the instrument catalogue
}
FIXED_CODES = {  # plain code elements (not codings) and their value sets
    "Patient.gender": {"male", "female", "other", "unknown"},
    "EpisodeOfCare.status": set(COURSE_STATUS),
    "Procedure.status": {"completed"},
    "Observation.status": {"final"},
    "QuestionnaireResponse.status": {"completed"},
    "AdverseEvent.actuality": {"actual"},
    "Questionnaire.status": {"active"},
}


class ValueSets:
    """Allowed codes per code system: the registry's vocabularies (from the database), ICD-10-CM
    by its format and the registry's condition list, and the fixed FHIR value sets used."""

    def __init__(self, connection: Connection) -> None:
        self.allowed: dict[str, set[str]] = {k: set(v) for k, v in FIXED_VALUE_SETS.items()}
        self.allowed[system("instrument")] = set(catalogue())
        rows = connection.execute(select(m.VocabularyTerm.vocabulary, m.VocabularyTerm.code))
        for vocabulary, code in rows:
            self.allowed.setdefault(system(vocabulary), set()).add(code)

    def problems(self, resource: dict[str, Any]) -> list[str]:
        """Every coding whose code is not in its system's value set, and every unknown system."""
        found: list[str] = []
        kind = resource.get("resourceType", "")
        for name, allowed in FIXED_CODES.items():
            owner, element = name.split(".")
            if owner == kind and element in resource and resource[element] not in allowed:
                found.append(f"{name}: {resource[element]!r} is not one of {sorted(allowed)}")
        for path, item in _codings(resource, kind):
            code, where = item.get("code"), item.get("system")
            if where == ICD10CM:
                if not isinstance(code, str) or not ICD10_CM.match(code):
                    found.append(f"{path}: {code!r} is not an ICD-10-CM code")
                continue
            if where == UCUM:
                continue
            if where not in self.allowed:
                found.append(f"{path}: unknown code system {where!r}")
            elif code not in self.allowed[where]:
                found.append(f"{path}: {code!r} is not in the value set of {where}")
        return found


def _codings(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        if "system" in value and "code" in value and "value" not in value:
            yield path, value
        for key, item in value.items():
            if key not in ("reference", "url"):
                yield from _codings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _codings(item, path)


class InvalidResource(ValueError):
    pass


def validate(resource: dict[str, Any], value_sets: ValueSets) -> None:
    """Structure by fhir.resources (R4B), codes by the value sets; raises InvalidResource."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    name = f"{resource.get('resourceType')}/{resource.get('id')}"
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except (ValidationError, KeyError) as error:
        raise InvalidResource(f"{name}: {str(error).splitlines()[:3]}") from error
    codes = value_sets.problems(resource)
    if codes:
        raise InvalidResource(f"{name}: " + "; ".join(codes))


# --- registry → resources -----------------------------------------------------------------------


def organization(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": str(row["id"]),
        "identifier": [{"system": f"{BASE}/site-code", "value": row["code"]}],
        "name": row["name"],
    }


def practitioner(row: dict[str, Any], training: list[dict[str, Any]]) -> dict[str, Any]:
    qualifications: list[Any] = [
        {"id": "degree", "code": concept("degree", row["degree"])},
    ]
    for t in training:
        qualifications.append(
            {
                "id": f"training-{t['id']}",
                "extension": [
                    x("training-course", "valueString", t["course"]),
                    x("training-hours", "valueDecimal", t["hours"]),
                    x("training-verified", "valueBoolean", bool(t["verified"])),
                    x("training-organization-other", "valueString", t["organization_other"]),
                ],
                "identifier": [{"system": f"{BASE}/certificate", "value": t["certificate_id"]}]
                if t["certificate_id"]
                else [],
                "code": concept("training_organization", t["organization"]),
                "period": {"end": day(t["completed_on"])},
            }
        )
    return {
        "resourceType": "Practitioner",
        "id": str(row["id"]),
        "extension": [
            x("specialty", "valueCoding", coding("specialty", row["specialty"])),
            x("years-in-practice", "valueInteger", row["years_in_practice"]),
            x(
                "prior-prolotherapy-procedures",
                "valueInteger",
                row["prior_prolotherapy_procedures"],
            ),
        ],
        "name": [{"text": row["name"]}],
        "qualification": qualifications,
    }


def practitioner_role(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": str(row["id"]),
        "practitioner": ref("Practitioner", row["practitioner_id"]),
        "organization": ref("Organization", row["site_id"]),
    }


def questionnaire(code: str) -> dict[str, Any]:
    instrument = catalogue()[code]
    kinds = {"integer": "integer", "boolean": "boolean", "choice": "integer"}
    return {
        "resourceType": "Questionnaire",
        "id": code.replace("_", "-"),  # ids allow no underscore; the canonical url keeps it
        "url": f"{BASE}/Questionnaire/{code}",
        "version": instrument.version,
        "name": code,
        "title": instrument.name,
        "status": "active",
        "item": [
            {"linkId": item.id, "text": item.label, "type": kinds[item.kind]}
            for item in instrument.items
        ],
    }


def patient(row: dict[str, Any]) -> dict[str, Any]:
    name = None
    if row["given_name"] is not None or row["family_name"] is not None:
        name = [
            {
                "family": row["family_name"],
                "given": [row["given_name"]] if row["given_name"] is not None else [],
            }
        ]
    return {
        "resourceType": "Patient",
        "id": str(row["id"]),
        "extension": [
            x("consent-status", "valueCoding", coding("consent_status", row["consent_status"])),
            x("consent-date", "valueDate", day(row["consent_date"])),
        ],
        "identifier": [
            {"system": f"{BASE}/site/{row['site_id']}/patient", "value": row["external_id"]}
        ],
        "name": name,
        "telecom": [
            {"system": "email", "value": row["email"]} if row["email"] else None,
            {"system": "phone", "value": row["phone"]} if row["phone"] else None,
        ],
        "gender": row["sex"],
        "birthDate": day(row["birth_date"]),
        "managingOrganization": ref("Organization", row["site_id"]),
    }


def condition(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": str(row["id"]),
        "extension": [
            x(
                "diagnosis-confirmation",
                "valueCoding",
                coding("diagnosis_confirmation", row["diagnosis_confirmation"]),
            )
        ],
        "code": {"coding": [{"system": ICD10CM, "code": row["icd10_code"]}]},
        "bodySite": [concept("region", row["region"])],
        "subject": ref("Patient", row["patient_id"]),
        "onsetDateTime": day(row["onset_date"]),
        "note": [{"text": row["notes"]}] if row["notes"] else [],
    }


def prior_treatment(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"prior-{row['id']}",
        "status": "completed",
        "category": concept("procedure_category", "prior_treatment"),
        "code": concept("prior_treatment_type", row["treatment_type"]),
        "subject": ref("Patient", row["patient_id"]),
        "performedPeriod": {"start": day(row["start_date"]), "end": day(row["end_date"])},
        "reasonReference": [ref("Condition", row["condition_id"])],
        "outcome": concept("prior_treatment_result", row["result"]),
    }


def episode(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "EpisodeOfCare",
        "id": str(row["id"]),
        "extension": [
            x("planned-sessions", "valueInteger", row["planned_sessions"]),
            x("stop-reason", "valueString", row["stop_reason"]),
        ],
        "status": EPISODE_STATUS[row["status"]],
        "type": [concept("procedure_category", "prolotherapy_session", "prolotherapy course")],
        "diagnosis": [{"condition": ref("Condition", row["condition_id"])}],
        "patient": ref("Patient", row["patient_id"]),
        "period": {"start": day(row["start_date"]), "end": day(row["end_date"])},
        "careManager": ref("Practitioner", row["practitioner_id"]),
    }


def episode_link(course_id: Any) -> dict[str, Any] | None:
    return x("episode-of-care", "valueReference", ref("EpisodeOfCare", course_id))


def injection_session(row: dict[str, Any], patient_id: int) -> dict[str, Any]:
    sites = []
    for target in row["targets"] or []:
        sites.append(
            {
                "extension": [
                    *[x("level", "valueString", level) for level in target.get("levels", [])],
                    x("laterality", "valueCoding", coding("side", target.get("side"))),
                ],
                "coding": [coding("target", target["target"])],
            }
        )
    return {
        "resourceType": "Procedure",
        "id": f"session-{row['id']}",
        "extension": [
            episode_link(row["course_id"]),
            x("concentration-percent", "valueDecimal", row["concentration_percent"]),
            x(
                "total-volume",
                "valueQuantity",
                {"value": row["total_volume_ml"], "unit": "mL", "system": UCUM, "code": "mL"},
            ),
            x("injection-count", "valueInteger", row["injection_count"]),
            x("guidance", "valueCoding", coding("guidance", row["guidance"])),
        ],
        "status": "completed",
        "category": concept("procedure_category", "prolotherapy_session"),
        "code": concept("procedure_category", "prolotherapy_session", "prolotherapy injections"),
        "subject": ref("Patient", patient_id),
        "performedDateTime": day(row["session_date"]),
        "performer": [{"actor": ref("Practitioner", row["practitioner_id"])}],
        "bodySite": sites,
        "usedCode": [concept("agent", row["agent"]), concept("anesthetic", row["anesthetic"])],
    }


def co_intervention(row: dict[str, Any], patient_id: int) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"cointervention-{row['id']}",
        "extension": [
            episode_link(row["course_id"]),
            x("adherence-percent", "valueDecimal", row["adherence_percent"]),
        ],
        "status": "completed",
        "category": concept("procedure_category", "co_intervention"),
        "code": concept("co_intervention_type", row["intervention_type"]),
        "subject": ref("Patient", patient_id),
        "performedPeriod": {"start": day(row["start_date"]), "end": day(row["end_date"])},
        "note": [{"text": row["notes"]}] if row["notes"] else [],
    }


def adverse_event(row: dict[str, Any], patient_id: int) -> dict[str, Any]:
    grade = int(row["grade"])
    return {
        "resourceType": "AdverseEvent",
        "id": str(row["id"]),
        "extension": [
            episode_link(row["course_id"]),
            x("grade", "valueInteger", grade),
            x("resolution-date", "valueDate", day(row["resolution_date"])),
        ],
        "actuality": "actual",
        "event": concept("adverse_event_type", row["event_type"], row["description"]),
        "subject": ref("Patient", patient_id),
        "date": day(row["onset_date"]),
        "seriousness": {
            "coding": [
                {"system": SERIOUSNESS, "code": "serious" if row["serious"] else "non-serious"}
            ]
        },
        # CTCAE grades 1–5 have no exact home in R4's three severities: the grade is kept in
        # its extension, the severity is the nearest for systems that read only that.
        "severity": {
            "coding": [
                {"system": SEVERITY, "code": {1: "mild", 2: "moderate"}.get(grade, "severe")}
            ]
        },
        "suspectEntity": [{"instance": ref("Procedure", f"session-{row['session_id']}")}]
        if row["session_id"]
        else [],
    }


def observation(
    ident: str,
    patient_id: int,
    code: dict[str, Any],
    effective: Any,
    course_id: Any = None,
    **rest: Any,
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "extension": [episode_link(course_id)],
        "status": "final",
        "code": code,
        "subject": ref("Patient", patient_id),
        "effectiveDateTime": day(effective),
        **rest,
    }


def recurrence(row: dict[str, Any], patient_id: int) -> dict[str, Any]:
    return observation(
        f"recurrence-{row['id']}",
        patient_id,
        concept("observation", "recurrence") or {},
        row["event_date"],
        row["course_id"],
        valueCodeableConcept=concept("recurrence_kind", row["kind"]),
        note=[{"text": row["description"]}] if row["description"] else [],
    )


def work_status(row: dict[str, Any]) -> dict[str, Any]:
    return observation(
        f"work-{row['id']}",
        row["patient_id"],
        concept("observation", "work_status") or {},
        row["recorded_on"],
        row["course_id"],
        valueCodeableConcept=concept("work_status", row["status"]),
    )


def objective_measure(row: dict[str, Any]) -> dict[str, Any]:
    quantity = None
    if row["value"] is not None or row["unit"] is not None:
        quantity = {"value": row["value"], "unit": row["unit"]}
    site = None
    if row["structure"] is not None or row["side"] is not None:
        site = {
            "extension": [x("laterality", "valueCoding", coding("side", row["side"]))],
            "coding": [coding("target", row["structure"])],
        }
    return observation(
        f"measure-{row['id']}",
        row["patient_id"],
        {
            "coding": [
                coding("observation", "objective_measure"),
                coding("objective_measure_type", row["measure_type"]),
            ]
        },
        row["measured_on"],
        row["course_id"],
        valueQuantity=quantity,
        method=concept("measure_method", row["method"]),
        bodySite=site,
        note=[{"text": row["finding"]}] if row["finding"] else [],
    )


def _answer(item_kind: str, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"valueCoding": {"system": ABSENT, "code": ABSENT_OF.get(value, value)}}]
    if isinstance(value, bool) or item_kind == "boolean":
        return [{"valueBoolean": bool(value)}]
    if isinstance(value, float) and not value.is_integer():
        return [{"valueDecimal": value}]
    return [{"valueInteger": int(value)}]


def questionnaire_response(row: dict[str, Any]) -> dict[str, Any]:
    instrument = catalogue().get(row["instrument"])
    items = row["items"] or []
    kinds = [i.kind for i in instrument.items] if instrument else []
    link_ids = [i.id for i in instrument.items] if instrument else []
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(row["id"]),
        "extension": [
            episode_link(row["course_id"]),
            x("assessment-source", "valueCode", row["source"]),
        ],
        "questionnaire": f"{BASE}/Questionnaire/{row['instrument']}",
        "status": "completed",
        "subject": ref("Patient", row["patient_id"]),
        "authored": day(row["assessed_on"]),
        "item": [
            {
                "linkId": link_ids[n] if n < len(link_ids) else f"item{n + 1}",
                "answer": _answer(kinds[n] if n < len(kinds) else "integer", value),
            }
            for n, value in enumerate(items)
        ],
    }


def score_observation(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["score"] is None:
        return None
    code: list[Any] = [coding("instrument", row["instrument"])]
    if row["instrument"] == "NRS":
        code.insert(0, {"system": LOINC, "code": NRS_LOINC})
    instrument = catalogue().get(row["instrument"])
    return observation(
        f"{SCORE_PREFIX}{row['id']}",
        row["patient_id"],
        {"coding": code, "text": f"{instrument.name if instrument else row['instrument']} score"},
        row["assessed_on"],
        row["course_id"],
        category=[concept("observation", "score")],
        valueQuantity={"value": row["score"]},
        derivedFrom=[ref("QuestionnaireResponse", row["id"])],
    )


# --- reading the registry ------------------------------------------------------------------------


def _rows(connection: Connection, table: Any, *conditions: Any) -> list[dict[str, Any]]:
    query = select(table).where(*conditions).order_by(table.c.id)
    return [dict(r) for r in connection.execute(query).mappings()]


def _table(model: Any) -> Any:
    return model.__table__


def clinic_resources(
    connection: Connection,
    site_ids: set[int] | None = None,
    practitioner_ids: set[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Organizations, practitioners (with training), their roles and the questionnaires."""
    sites, practitioners = _table(m.Site), _table(m.Practitioner)
    roles, training = _table(m.PractitionerSite), _table(m.TrainingRecord)
    alive = [sites.c.retired_at.is_(None)]
    if site_ids is not None:
        alive.append(sites.c.id.in_(site_ids))
    for row in _rows(connection, sites, *alive):
        yield organization(row)
    chosen = [practitioners.c.retired_at.is_(None)]
    if practitioner_ids is not None:
        chosen.append(practitioners.c.id.in_(practitioner_ids))
    by_practitioner: dict[int, list[dict[str, Any]]] = {}
    for row in _rows(connection, training, training.c.retired_at.is_(None)):
        by_practitioner.setdefault(row["practitioner_id"], []).append(row)
    for row in _rows(connection, practitioners, *chosen):
        yield practitioner(row, by_practitioner.get(row["id"], []))
    role_filter = [roles.c.retired_at.is_(None)]
    if practitioner_ids is not None:
        role_filter.append(roles.c.practitioner_id.in_(practitioner_ids))
    if site_ids is not None:
        role_filter.append(roles.c.site_id.in_(site_ids))
    for row in _rows(connection, roles, *role_filter):
        yield practitioner_role(row)
    for code in sorted(catalogue()):
        yield questionnaire(code)


def patient_resources(
    connection: Connection, patient_ids: Iterable[int]
) -> Iterator[dict[str, Any]]:
    """Every resource of these patients, patient by patient (each patient's resources together)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    t = {name: _table(model) for name, model in TABLE_MODELS.items()}
    courses_t = t["treatment_courses"]

    def of_patients(name: str) -> dict[int, list[dict[str, Any]]]:
        table = t[name]
        grouped: dict[int, list[dict[str, Any]]] = {}
        if "patient_id" in table.c:
            rows = _rows(
                connection, table, table.c.retired_at.is_(None), table.c.patient_id.in_(ids)
            )
            for row in rows:
                grouped.setdefault(row["patient_id"], []).append(row)
            return grouped
        course_ids = select(courses_t.c.id).where(courses_t.c.patient_id.in_(ids))
        rows = _rows(
            connection, table, table.c.retired_at.is_(None), table.c.course_id.in_(course_ids)
        )
        for row in rows:
            grouped.setdefault(owner[row["course_id"]], []).append(row)
        return grouped

    patients = _rows(
        connection, t["patients"], t["patients"].c.retired_at.is_(None), t["patients"].c.id.in_(ids)
    )
    courses = of_patients("treatment_courses")
    owner = {c["id"]: pid for pid, rows in courses.items() for c in rows}
    groups = {
        name: of_patients(name)
        for name in TABLE_MODELS
        if name not in ("patients", "treatment_courses")
    }
    groups["treatment_courses"] = courses
    for row in patients:
        pid = row["id"]
        yield patient(row)
        for r in groups["conditions"].get(pid, []):
            yield condition(r)
        for r in groups["prior_treatments"].get(pid, []):
            yield prior_treatment(r)
        for r in courses.get(pid, []):
            yield episode(r)
        for r in groups["injection_sessions"].get(pid, []):
            yield injection_session(r, pid)
        for r in groups["co_interventions"].get(pid, []):
            yield co_intervention(r, pid)
        for r in groups["adverse_events"].get(pid, []):
            yield adverse_event(r, pid)
        for r in groups["recurrences"].get(pid, []):
            yield recurrence(r, pid)
        for r in groups["work_statuses"].get(pid, []):
            yield work_status(r)
        for r in groups["objective_measures"].get(pid, []):
            yield objective_measure(r)
        for r in groups["assessments"].get(pid, []):
            yield questionnaire_response(r)
            score = score_observation(r)
            if score is not None:
                yield score


TABLE_MODELS: dict[str, Any] = {
    "patients": m.Patient,
    "conditions": m.Condition,
    "prior_treatments": m.PriorTreatment,
    "treatment_courses": m.TreatmentCourse,
    "injection_sessions": m.InjectionSession,
    "co_interventions": m.CoIntervention,
    "adverse_events": m.AdverseEvent,
    "recurrences": m.Recurrence,
    "work_statuses": m.WorkStatus,
    "objective_measures": m.ObjectiveMeasure,
    "assessments": Assessment,
}


def registry_resources(engine: Engine) -> Iterator[dict[str, Any]]:
    patients = _table(m.Patient)
    with engine.connect() as connection:
        yield from clinic_resources(connection)
        ids = list(
            connection.execute(
                select(patients.c.id).where(patients.c.retired_at.is_(None)).order_by(patients.c.id)
            ).scalars()
        )
        for start in range(0, len(ids), PATIENTS_PER_READ):
            yield from patient_resources(connection, ids[start : start + PATIENTS_PER_READ])


def everything(connection: Connection, patient_id: int) -> dict[str, Any]:
    """``Patient/{id}/$everything`` as a Bundle: the patient's resources and those they cite."""
    resources = list(patient_resources(connection, [patient_id]))
    if not resources:
        raise KeyError(patient_id)
    site_ids = {int(resources[0]["managingOrganization"]["reference"].split("/")[1])}
    cited = {
        int(r["reference"].split("/")[1])
        for resource in resources
        for r in _references(resource)
        if r["reference"].startswith("Practitioner/")
    }
    value_sets = ValueSets(connection)
    clinic = list(clinic_resources(connection, site_ids, cited))
    entries = []
    for resource in [*clinic, *resources]:
        resource = clean(resource)
        validate(resource, value_sets)
        entries.append(entry(resource))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "entry": entries,
    }


def _references(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if "reference" in value:
            yield value
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"{BASE}/{resource['resourceType']}/{resource['id']}", "resource": resource}


@dataclass
class ExportReport:
    resources: dict[str, int] = field(default_factory=dict)


def export_bundle(url: str, out: Path, *, check: bool = True) -> ExportReport:
    """Write the registry as one Bundle (type collection), an entry per line, streaming."""
    from prolo.db import engine_for

    engine = engine_for(url)
    report = ExportReport()
    with engine.connect() as connection:
        value_sets = ValueSets(connection)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        handle.write(
            '{"resourceType": "Bundle", "type": "collection", '
            f'"timestamp": "{stamp}", "entry": [\n'
        )
        first = True
        for resource in registry_resources(engine):
            resource = clean(resource)
            if check:
                validate(resource, value_sets)
            handle.write(("" if first else ",\n") + json.dumps(entry(resource), default=str))
            first = False
            kind = resource["resourceType"]
            report.resources[kind] = report.resources.get(kind, 0) + 1
        handle.write("\n]}\n")
    return report


# --- resources → registry rows -------------------------------------------------------------------


def _id(reference: dict[str, Any] | None, prefix: str = "") -> int | None:
    if not reference:
        return None
    tail = reference["reference"].rsplit("/", 1)[-1]
    return int(tail.removeprefix(prefix))


def _extensions(resource: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in resource.get("extension", []):
        name = item["url"].rsplit("/", 1)[-1]
        value = next(v for k, v in item.items() if k.startswith("value"))
        found[name] = value
    return found


def _code(concept_value: dict[str, Any] | None, vocabulary: str | None = None) -> str | None:
    if not concept_value:
        return None
    for item in concept_value.get("coding", []):
        if vocabulary is None or item.get("system") == system(vocabulary):
            return str(item["code"])
    return None


def _levels(site: dict[str, Any]) -> list[str]:
    return [e["valueString"] for e in site.get("extension", []) if e["url"] == ext("level")]


def _side(element: dict[str, Any] | None) -> str | None:
    if not element:
        return None
    for e in element.get("extension", []):
        if e["url"] == ext("laterality"):
            return str(e["valueCoding"]["code"])
    return None


def _note(resource: dict[str, Any]) -> str | None:
    notes = resource.get("note") or []
    return notes[0]["text"] if notes else None


def _answers(resource: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for item in resource.get("item", []):
        answers = item.get("answer") or []
        if not answers:
            values.append(None)
            continue
        answer = answers[0]
        if "valueCoding" in answer:
            values.append(
                MISSING_OF.get(answer["valueCoding"]["code"], answer["valueCoding"]["code"])
            )
        else:
            values.append(next(v for k, v in answer.items() if k.startswith("value")))
    return values


def rows_of(resource: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The registry rows (table, values) a resource holds; derived resources hold none."""
    kind, ident = resource["resourceType"], str(resource["id"])
    extension = _extensions(resource)
    course = _id(extension.get("episode-of-care"))
    if kind == "Organization":
        return [
            (
                "sites",
                {
                    "id": int(ident),
                    "code": resource["identifier"][0]["value"],
                    "name": resource["name"],
                },
            )
        ]
    if kind == "Practitioner":
        rows: list[tuple[str, dict[str, Any]]] = []
        degree = None
        for q in resource.get("qualification", []):
            if q.get("id") == "degree":
                degree = _code(q["code"], "degree")
                continue
            qx = _extensions(q)
            rows.append(
                (
                    "training_records",
                    {
                        "id": int(q["id"].removeprefix("training-")),
                        "practitioner_id": int(ident),
                        "organization": _code(q["code"], "training_organization"),
                        "organization_other": qx.get("training-organization-other"),
                        "course": qx.get("training-course"),
                        "completed_on": q.get("period", {}).get("end"),
                        "hours": qx.get("training-hours"),
                        "certificate_id": (q.get("identifier") or [{}])[0].get("value"),
                        "verified": qx.get("training-verified"),
                    },
                )
            )
        row = {
            "id": int(ident),
            "name": resource["name"][0]["text"],
            "degree": degree,
            "specialty": extension["specialty"]["code"],
            "years_in_practice": extension.get("years-in-practice"),
            "prior_prolotherapy_procedures": extension.get("prior-prolotherapy-procedures"),
        }
        return [("practitioners", row), *rows]
    if kind == "PractitionerRole":
        return [
            (
                "practitioner_sites",
                {
                    "id": int(ident),
                    "practitioner_id": _id(resource.get("practitioner")),
                    "site_id": _id(resource.get("organization")),
                },
            )
        ]
    if kind == "Patient":
        name = (resource.get("name") or [{}])[0]
        telecom = {t["system"]: t["value"] for t in resource.get("telecom", [])}
        consent = extension.get("consent-status")
        return [
            (
                "patients",
                {
                    "id": int(ident),
                    "site_id": _id(resource.get("managingOrganization")),
                    "external_id": resource["identifier"][0]["value"],
                    "given_name": (name.get("given") or [None])[0],
                    "family_name": name.get("family"),
                    "birth_date": resource.get("birthDate"),
                    "sex": resource.get("gender"),
                    "email": telecom.get("email"),
                    "phone": telecom.get("phone"),
                    "consent_status": consent["code"] if consent else None,
                    "consent_date": extension.get("consent-date"),
                },
            )
        ]
    if kind == "Condition":
        confirmation = extension.get("diagnosis-confirmation")
        return [
            (
                "conditions",
                {
                    "id": int(ident),
                    "patient_id": _id(resource.get("subject")),
                    "icd10_code": _code(resource.get("code")),
                    "region": _code((resource.get("bodySite") or [None])[0], "region"),
                    "onset_date": resource.get("onsetDateTime"),
                    "diagnosis_confirmation": confirmation["code"] if confirmation else None,
                    "notes": _note(resource),
                },
            )
        ]
    if kind == "EpisodeOfCare":
        period = resource.get("period", {})
        return [
            (
                "treatment_courses",
                {
                    "id": int(ident),
                    "patient_id": _id(resource.get("patient")),
                    "condition_id": _id((resource.get("diagnosis") or [{}])[0].get("condition")),
                    "practitioner_id": _id(resource.get("careManager")),
                    "start_date": period.get("start"),
                    "end_date": period.get("end"),
                    "planned_sessions": extension.get("planned-sessions"),
                    "status": COURSE_STATUS.get(resource.get("status", "")),
                    "stop_reason": extension.get("stop-reason"),
                },
            )
        ]
    if kind == "Procedure":
        period = resource.get("performedPeriod", {})
        if ident.startswith("prior-"):
            return [
                (
                    "prior_treatments",
                    {
                        "id": int(ident.removeprefix("prior-")),
                        "patient_id": _id(resource.get("subject")),
                        "condition_id": _id((resource.get("reasonReference") or [None])[0]),
                        "treatment_type": _code(resource.get("code"), "prior_treatment_type"),
                        "start_date": period.get("start"),
                        "end_date": period.get("end"),
                        "result": _code(resource.get("outcome"), "prior_treatment_result"),
                    },
                )
            ]
        if ident.startswith("cointervention-"):
            return [
                (
                    "co_interventions",
                    {
                        "id": int(ident.removeprefix("cointervention-")),
                        "course_id": course,
                        "intervention_type": _code(resource.get("code"), "co_intervention_type"),
                        "start_date": period.get("start"),
                        "end_date": period.get("end"),
                        "adherence_percent": extension.get("adherence-percent"),
                        "notes": _note(resource),
                    },
                )
            ]
        used = resource.get("usedCode") or []
        targets = [
            {
                "target": _code(site, "target"),
                "levels": _levels(site),
                "side": _side(site),
            }
            for site in resource.get("bodySite", [])
        ]
        volume = extension.get("total-volume") or {}
        guidance = extension.get("guidance")
        return [
            (
                "injection_sessions",
                {
                    "id": int(ident.removeprefix("session-")),
                    "course_id": course,
                    "practitioner_id": _id((resource.get("performer") or [{}])[0].get("actor")),
                    "session_date": resource.get("performedDateTime"),
                    "agent": next((_code(c, "agent") for c in used if _code(c, "agent")), None),
                    "concentration_percent": extension.get("concentration-percent"),
                    "anesthetic": next(
                        (_code(c, "anesthetic") for c in used if _code(c, "anesthetic")), None
                    ),
                    "total_volume_ml": volume.get("value"),
                    "injection_count": extension.get("injection-count"),
                    "guidance": guidance["code"] if guidance else None,
                    "targets": targets,
                },
            )
        ]
    if kind == "AdverseEvent":
        seriousness = _code(resource.get("seriousness"))
        session = (resource.get("suspectEntity") or [{}])[0].get("instance")
        return [
            (
                "adverse_events",
                {
                    "id": int(ident),
                    "course_id": course,
                    "session_id": _id(session, "session-"),
                    "event_type": _code(resource.get("event"), "adverse_event_type"),
                    "grade": extension.get("grade"),
                    "serious": seriousness == "serious",
                    "onset_date": resource.get("date"),
                    "resolution_date": extension.get("resolution-date"),
                    "description": (resource.get("event") or {}).get("text"),
                },
            )
        ]
    if kind == "Observation":
        if ident.startswith(SCORE_PREFIX):
            return []  # a score is computed from the answers, never imported
        patient_id = _id(resource.get("subject"))
        if ident.startswith("recurrence-"):
            return [
                (
                    "recurrences",
                    {
                        "id": int(ident.removeprefix("recurrence-")),
                        "course_id": course,
                        "kind": _code(resource.get("valueCodeableConcept"), "recurrence_kind"),
                        "event_date": resource.get("effectiveDateTime"),
                        "description": _note(resource),
                    },
                )
            ]
        if ident.startswith("work-"):
            return [
                (
                    "work_statuses",
                    {
                        "id": int(ident.removeprefix("work-")),
                        "patient_id": patient_id,
                        "course_id": course,
                        "recorded_on": resource.get("effectiveDateTime"),
                        "status": _code(resource.get("valueCodeableConcept"), "work_status"),
                    },
                )
            ]
        quantity = resource.get("valueQuantity") or {}
        site = resource.get("bodySite")
        return [
            (
                "objective_measures",
                {
                    "id": int(ident.removeprefix("measure-")),
                    "patient_id": patient_id,
                    "course_id": course,
                    "measured_on": resource.get("effectiveDateTime"),
                    "measure_type": _code(resource.get("code"), "objective_measure_type"),
                    "value": quantity.get("value"),
                    "unit": quantity.get("unit"),
                    "method": _code(resource.get("method"), "measure_method"),
                    "structure": _code(site, "target"),
                    "side": _side(site),
                    "finding": _note(resource),
                },
            )
        ]
    if kind == "QuestionnaireResponse":
        return [
            (
                "assessments",
                {
                    "id": int(ident),
                    "patient_id": _id(resource.get("subject")),
                    "course_id": course,
                    "instrument": resource["questionnaire"].rsplit("/", 1)[-1],
                    "assessed_on": resource.get("authored"),
                    "source": extension.get("assessment-source"),
                    "items": _answers(resource),
                },
            )
        ]
    return []  # Questionnaire and anything else: nothing to store


def _text(value: Any) -> Any:
    """Cells as a CSV file would give them to the import (its rules parse text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass
class ImportReport:
    written: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    batches_rejected: int = 0


def read_entries(handle: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The resources of a Bundle, one at a time (the file is never loaded whole)."""
    import ijson

    for item in ijson.items(handle, "entry.item", use_float=True):
        resource = item.get("resource")
        if resource is not None:
            yield resource


def import_bundle(
    url: str,
    path: Path,
    *,
    batch_patients: int = 5_000,
    dry_run: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Read a Bundle written by :func:`export_bundle` (or any Bundle of the same resources)
    back into the registry, batch by batch through the bulk import path."""
    from prolo.db import engine_for
    from prolo.interop.bulk import Importer
    from prolo.interop.tables import TABLE_ORDER

    importer = Importer(url)
    engine = engine_for(url)
    with engine.connect() as connection:
        value_sets = ValueSets(connection)
    report = ImportReport()
    pending: dict[str, list[dict[str, Any]]] = {}
    origins: dict[str, list[str]] = {}
    patients = 0

    def flush() -> None:
        if not pending:
            return
        frames = {
            name: pd.DataFrame([{k: _text(v) for k, v in r.items()} for r in pending[name]])
            for name in TABLE_ORDER
            if name in pending
        }
        for frame in frames.values():
            frame["id"] = frame["id"].astype("int64")
        result = importer.import_batch(
            frames, sources=dict.fromkeys(frames, str(path)), dry_run=dry_run
        )
        for rejection in result.rejected:
            report.problems.append(_describe(rejection, origins))
        if result.rejected:
            report.batches_rejected += 1
        for name, count in result.written.items():
            report.written[name] = report.written.get(name, 0) + count
        if on_batch is not None:
            on_batch(len(pending.get("patients", [])))
        pending.clear()
        origins.clear()

    with path.open("rb") as handle:
        for resource in read_entries(handle):
            name = f"{resource.get('resourceType')}/{resource.get('id')}"
            codes = value_sets.problems(resource)
            if codes:
                report.problems.extend(f"{name}: {c}" for c in codes)
                continue
            if resource.get("resourceType") == "Patient":
                patients += 1
                if patients > batch_patients:
                    flush()
                    patients = 1
            try:
                found = rows_of(resource)
            except (KeyError, ValueError, TypeError, IndexError, StopIteration) as error:
                report.problems.append(f"{name}: cannot be read ({type(error).__name__}: {error})")
                continue
            for table, row in found:
                pending.setdefault(table, []).append(row)
                origins.setdefault(table, []).append(name)
    flush()
    return report


def _describe(rejection: Rejection, origins: dict[str, list[str]]) -> str:
    names = origins.get(rejection.table, [])
    where = names[rejection.row - 1] if 0 < rejection.row <= len(names) else rejection.table
    return f"{where}: {rejection.field}: {rejection.reason}"

"""OMOP CDM 5.4 as CSV files, one per table, named as the table (no location table).

Concept ids that can be mapped without the OMOP vocabularies at hand are filled (gender,
outpatient visit, the registry type concept, the treatment-regimen episode, mL and percent, the
episode-event field concepts); every other concept id is 0 with the registry's code kept in the
``*_source_value`` column, and ``source_to_concept_map.csv`` lists the registry's own codes (its
vocabularies and instruments) for the mapping a network does with its vocabulary tables.

Injection targets, levels and sides have no standard concept: each session gives one
``procedure_occurrence`` per target and level, ``procedure_source_value`` = "<target> <level>"
(e.g. ``lumbar_facet_capsule L4-L5``) and ``modifier_source_value`` = the side; the agent (with
its concentration) and the local anaesthetic are ``drug_exposure`` rows of the session's visit.

The files are written patient chunk by patient chunk (:data:`PATIENTS_PER_READ`).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, select

from prolo.assessments.models import Assessment
from prolo.instruments.definitions import catalogue
from prolo.interop.deidentify import study_id
from prolo.registry import models as m

PATIENTS_PER_READ = 2_000

# Standard concepts (OMOP vocabularies): the few that are fixed whatever the data.
FEMALE, MALE = 8532, 8507
OUTPATIENT_VISIT = 9202
REGISTRY_TYPE = 32879  # Type Concept "Registry"
TREATMENT_REGIMEN = 32531  # Episode "Treatment Regimen"
MILLILITER, PERCENT = 8587, 8554
PROCEDURE_OCCURRENCE_FIELD = 1147082  # procedure_occurrence.procedure_occurrence_id
DRUG_EXPOSURE_FIELD = 1147094  # drug_exposure.drug_exposure_id
UNITS = {"mL": MILLILITER, "ml": MILLILITER, "%": PERCENT, "percent": PERCENT}

INT, N, D, T, S = "integer", "NUMERIC", "date", "TIMESTAMP", "varchar"

# The CDM 5.4 columns of the tables written, in the DDL's order: (name, type, required).
# Typed here rather than read from the OHDSI DDL files, which are not shipped with any package.
COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "person": [
        ("person_id", INT, True),
        ("gender_concept_id", INT, True),
        ("year_of_birth", INT, True),
        ("month_of_birth", INT, False),
        ("day_of_birth", INT, False),
        ("birth_datetime", T, False),
        ("race_concept_id", INT, True),
        ("ethnicity_concept_id", INT, True),
        ("location_id", INT, False),
        ("provider_id", INT, False),
        ("care_site_id", INT, False),
        ("person_source_value", S + "(50)", False),
        ("gender_source_value", S + "(50)", False),
        ("gender_source_concept_id", INT, False),
        ("race_source_value", S + "(50)", False),
        ("race_source_concept_id", INT, False),
        ("ethnicity_source_value", S + "(50)", False),
        ("ethnicity_source_concept_id", INT, False),
    ],
    "observation_period": [
        ("observation_period_id", INT, True),
        ("person_id", INT, True),
        ("observation_period_start_date", D, True),
        ("observation_period_end_date", D, True),
        ("period_type_concept_id", INT, True),
    ],
    "visit_occurrence": [
        ("visit_occurrence_id", INT, True),
        ("person_id", INT, True),
        ("visit_concept_id", INT, True),
        ("visit_start_date", D, True),
        ("visit_start_datetime", T, False),
        ("visit_end_date", D, True),
        ("visit_end_datetime", T, False),
        ("visit_type_concept_id", INT, True),
        ("provider_id", INT, False),
        ("care_site_id", INT, False),
        ("visit_source_value", S + "(50)", False),
        ("visit_source_concept_id", INT, False),
        ("admitted_from_concept_id", INT, False),
        ("admitted_from_source_value", S + "(50)", False),
        ("discharged_to_concept_id", INT, False),
        ("discharged_to_source_value", S + "(50)", False),
        ("preceding_visit_occurrence_id", INT, False),
    ],
    "condition_occurrence": [
        ("condition_occurrence_id", INT, True),
        ("person_id", INT, True),
        ("condition_concept_id", INT, True),
        ("condition_start_date", D, True),
        ("condition_start_datetime", T, False),
        ("condition_end_date", D, False),
        ("condition_end_datetime", T, False),
        ("condition_type_concept_id", INT, True),
        ("condition_status_concept_id", INT, False),
        ("stop_reason", S + "(20)", False),
        ("provider_id", INT, False),
        ("visit_occurrence_id", INT, False),
        ("visit_detail_id", INT, False),
        ("condition_source_value", S + "(50)", False),
        ("condition_source_concept_id", INT, False),
        ("condition_status_source_value", S + "(50)", False),
    ],
    "procedure_occurrence": [
        ("procedure_occurrence_id", INT, True),
        ("person_id", INT, True),
        ("procedure_concept_id", INT, True),
        ("procedure_date", D, True),
        ("procedure_datetime", T, False),
        ("procedure_end_date", D, False),
        ("procedure_end_datetime", T, False),
        ("procedure_type_concept_id", INT, True),
        ("modifier_concept_id", INT, False),
        ("quantity", INT, False),
        ("provider_id", INT, False),
        ("visit_occurrence_id", INT, False),
        ("visit_detail_id", INT, False),
        ("procedure_source_value", S + "(50)", False),
        ("procedure_source_concept_id", INT, False),
        ("modifier_source_value", S + "(50)", False),
    ],
    "drug_exposure": [
        ("drug_exposure_id", INT, True),
        ("person_id", INT, True),
        ("drug_concept_id", INT, True),
        ("drug_exposure_start_date", D, True),
        ("drug_exposure_start_datetime", T, False),
        ("drug_exposure_end_date", D, True),
        ("drug_exposure_end_datetime", T, False),
        ("verbatim_end_date", D, False),
        ("drug_type_concept_id", INT, True),
        ("stop_reason", S + "(20)", False),
        ("refills", INT, False),
        ("quantity", N, False),
        ("days_supply", INT, False),
        ("sig", "TEXT", False),
        ("route_concept_id", INT, False),
        ("lot_number", S + "(50)", False),
        ("provider_id", INT, False),
        ("visit_occurrence_id", INT, False),
        ("visit_detail_id", INT, False),
        ("drug_source_value", S + "(50)", False),
        ("drug_source_concept_id", INT, False),
        ("route_source_value", S + "(50)", False),
        ("dose_unit_source_value", S + "(50)", False),
    ],
    "measurement": [
        ("measurement_id", INT, True),
        ("person_id", INT, True),
        ("measurement_concept_id", INT, True),
        ("measurement_date", D, True),
        ("measurement_datetime", T, False),
        ("measurement_time", S + "(10)", False),
        ("measurement_type_concept_id", INT, True),
        ("operator_concept_id", INT, False),
        ("value_as_number", N, False),
        ("value_as_concept_id", INT, False),
        ("unit_concept_id", INT, False),
        ("range_low", N, False),
        ("range_high", N, False),
        ("provider_id", INT, False),
        ("visit_occurrence_id", INT, False),
        ("visit_detail_id", INT, False),
        ("measurement_source_value", S + "(50)", False),
        ("measurement_source_concept_id", INT, False),
        ("unit_source_value", S + "(50)", False),
        ("unit_source_concept_id", INT, False),
        ("value_source_value", S + "(50)", False),
        ("measurement_event_id", INT, False),
        ("meas_event_field_concept_id", INT, False),
    ],
    "observation": [
        ("observation_id", INT, True),
        ("person_id", INT, True),
        ("observation_concept_id", INT, True),
        ("observation_date", D, True),
        ("observation_datetime", T, False),
        ("observation_type_concept_id", INT, True),
        ("value_as_number", N, False),
        ("value_as_string", S + "(60)", False),
        ("value_as_concept_id", INT, False),
        ("qualifier_concept_id", INT, False),
        ("unit_concept_id", INT, False),
        ("provider_id", INT, False),
        ("visit_occurrence_id", INT, False),
        ("visit_detail_id", INT, False),
        ("observation_source_value", S + "(50)", False),
        ("observation_source_concept_id", INT, False),
        ("unit_source_value", S + "(50)", False),
        ("qualifier_source_value", S + "(50)", False),
        ("value_source_value", S + "(50)", False),
        ("observation_event_id", INT, False),
        ("obs_event_field_concept_id", INT, False),
    ],
    "episode": [
        ("episode_id", INT, True),
        ("person_id", INT, True),
        ("episode_concept_id", INT, True),
        ("episode_start_date", D, True),
        ("episode_start_datetime", T, False),
        ("episode_end_date", D, False),
        ("episode_end_datetime", T, False),
        ("episode_parent_id", INT, False),
        ("episode_number", INT, False),
        ("episode_object_concept_id", INT, True),
        ("episode_type_concept_id", INT, True),
        ("episode_source_value", S + "(50)", False),
        ("episode_source_concept_id", INT, False),
    ],
    "episode_event": [
        ("episode_id", INT, True),
        ("event_id", INT, True),
        ("episode_event_field_concept_id", INT, True),
    ],
    "provider": [
        ("provider_id", INT, True),
        ("provider_name", S + "(255)", False),
        ("npi", S + "(20)", False),
        ("dea", S + "(20)", False),
        ("specialty_concept_id", INT, False),
        ("care_site_id", INT, False),
        ("year_of_birth", INT, False),
        ("gender_concept_id", INT, False),
        ("provider_source_value", S + "(50)", False),
        ("specialty_source_value", S + "(50)", False),
        ("specialty_source_concept_id", INT, False),
        ("gender_source_value", S + "(50)", False),
        ("gender_source_concept_id", INT, False),
    ],
    "care_site": [
        ("care_site_id", INT, True),
        ("care_site_name", S + "(255)", False),
        ("place_of_service_concept_id", INT, False),
        ("location_id", INT, False),
        ("care_site_source_value", S + "(50)", False),
        ("place_of_service_source_value", S + "(50)", False),
    ],
    "source_to_concept_map": [
        ("source_code", S + "(50)", True),
        ("source_concept_id", INT, True),
        ("source_vocabulary_id", S + "(20)", True),
        ("source_code_description", S + "(255)", False),
        ("target_concept_id", INT, True),
        ("target_vocabulary_id", S + "(20)", True),
        ("valid_start_date", D, True),
        ("valid_end_date", D, True),
        ("invalid_reason", S + "(1)", False),
    ],
}


def ddl(schema: str | None = None) -> str:
    """CREATE TABLE statements of the tables written, with the CDM 5.4 column types."""
    prefix = f"{schema}." if schema else ""
    statements = []
    for table, columns in COLUMNS.items():
        body = ",\n".join(
            f"  {name} {kind}{' NOT NULL' if required else ''}" for name, kind, required in columns
        )
        statements.append(f"CREATE TABLE {prefix}{table} (\n{body}\n);")
    return "\n".join(statements) + "\n"


Row = dict[str, Any]


class Tables:
    """One CSV writer per table; rows are dicts, missing columns written empty."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.handles: dict[str, IO[str]] = {}
        self.writers: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        for table, columns in COLUMNS.items():
            handle = (folder / f"{table}.csv").open("w", newline="", encoding="utf-8")
            writer = csv.DictWriter(handle, [c for c, _, _ in columns], extrasaction="raise")
            writer.writeheader()
            self.handles[table] = handle
            self.writers[table] = writer
            self.counts[table] = 0

    def write(self, table: str, rows: list[Row]) -> None:
        self.writers[table].writerows(rows)
        self.counts[table] += len(rows)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


@dataclass
class Counter:
    """Running ids of the tables whose rows have no registry id of their own."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str) -> int:
        value = self.next.get(table, 1)
        self.next[table] = value + 1
        return value


def _d(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _trim(text: str | None, size: int = 50) -> str | None:
    return None if text is None else text[:size]


def _rows(connection: Connection, model: Any, *conditions: Any) -> list[Row]:
    table = model.__table__
    query = select(table).where(table.c.retired_at.is_(None), *conditions).order_by(table.c.id)
    return [dict(r) for r in connection.execute(query).mappings()]


@dataclass
class OmopReport:
    rows: dict[str, int] = field(default_factory=dict)
    persons_without_birth_year: int = 0


def clinic(connection: Connection, tables: Tables) -> None:
    sites = _rows(connection, m.Site)
    tables.write(
        "care_site",
        [
            {
                "care_site_id": s["id"],
                "care_site_name": s["name"],
                "care_site_source_value": _trim(s["code"]),
            }
            for s in sites
        ],
    )
    first_site: dict[int, int] = {}
    for link in _rows(connection, m.PractitionerSite):
        first_site.setdefault(link["practitioner_id"], link["site_id"])
    tables.write(
        "provider",
        [
            {
                "provider_id": p["id"],
                "provider_name": p["name"],
                "specialty_concept_id": 0,
                "care_site_id": first_site.get(p["id"]),
                "provider_source_value": str(p["id"]),
                "specialty_source_value": _trim(p["specialty"]),
                "specialty_source_concept_id": 0,
            }
            for p in _rows(connection, m.Practitioner)
        ],
    )


def source_to_concept_map(connection: Connection) -> list[Row]:
    """The registry's own codes, each unmapped (target 0, vocabulary "None") for a network to
    map with its vocabulary tables; instrument scores and items alike."""
    rows: list[Row] = []

    def add(code: str, vocabulary: str, description: str) -> None:
        rows.append(
            {
                "source_code": _trim(code),
                "source_concept_id": 0,
                "source_vocabulary_id": _trim(vocabulary, 20),
                "source_code_description": _trim(description, 255),
                "target_concept_id": 0,
                "target_vocabulary_id": "None",
                "valid_start_date": "1970-01-01",
                "valid_end_date": "2099-12-31",
                "invalid_reason": None,
            }
        )

    terms = connection.execute(
        select(m.VocabularyTerm.vocabulary, m.VocabularyTerm.code, m.VocabularyTerm.label).order_by(
            m.VocabularyTerm.vocabulary, m.VocabularyTerm.code
        )
    )
    for vocabulary, code, label in terms:
        if vocabulary != "condition":  # ICD-10-CM codes are in the standard vocabularies
            add(code, f"PROLO {vocabulary}", label)
    for code, instrument in sorted(catalogue().items()):
        add(code, "PROLO instrument", f"{instrument.name} score")
        for item in instrument.items:
            add(f"{code}.{item.id}", "PROLO instrument item", f"{instrument.name}: {item.label}")
    return rows


def export(url: str, out: Path, *, key: bytes) -> OmopReport:
    """Write every CDM table of :data:`COLUMNS` into ``out`` as ``<table>.csv``."""
    from prolo.db import engine_for

    engine = engine_for(url)
    tables = Tables(out)
    counter = Counter()
    report = OmopReport()
    try:
        with engine.connect() as connection:
            clinic(connection, tables)
            tables.write("source_to_concept_map", source_to_concept_map(connection))
            patients = m.Patient.__table__
            ids = list(
                connection.execute(
                    select(patients.c.id)
                    .where(patients.c.retired_at.is_(None))
                    .order_by(patients.c.id)
                ).scalars()
            )
            for start in range(0, len(ids), PATIENTS_PER_READ):
                chunk = ids[start : start + PATIENTS_PER_READ]
                report.persons_without_birth_year += _patients(
                    connection, chunk, tables, counter, key
                )
    finally:
        tables.close()
    report.rows = dict(tables.counts)
    return report


def _grouped(rows: list[Row], by: str) -> dict[Any, list[Row]]:
    found: dict[Any, list[Row]] = {}
    for row in rows:
        found.setdefault(row[by], []).append(row)
    return found


def _patients(
    connection: Connection, ids: list[int], tables: Tables, counter: Counter, key: bytes
) -> int:
    patients = _rows(connection, m.Patient, m.Patient.__table__.c.id.in_(ids))
    courses = _rows(
        connection, m.TreatmentCourse, m.TreatmentCourse.__table__.c.patient_id.in_(ids)
    )
    course_ids = [c["id"] for c in courses]
    owner = {c["id"]: c["patient_id"] for c in courses}

    def by_course(model: Any) -> list[Row]:
        return _rows(connection, model, model.__table__.c.course_id.in_(course_ids))

    conditions = _grouped(
        _rows(connection, m.Condition, m.Condition.__table__.c.patient_id.in_(ids)), "patient_id"
    )
    sessions = by_course(m.InjectionSession)
    events = by_course(m.AdverseEvent)
    recurrences = by_course(m.Recurrence)
    work = _rows(connection, m.WorkStatus, m.WorkStatus.__table__.c.patient_id.in_(ids))
    measures = _rows(
        connection, m.ObjectiveMeasure, m.ObjectiveMeasure.__table__.c.patient_id.in_(ids)
    )
    assessments = _rows(connection, Assessment, Assessment.__table__.c.patient_id.in_(ids))
    site_of = {p["id"]: p["site_id"] for p in patients}

    skipped = 0
    people = []
    kept: set[int] = set()
    for p in patients:
        born = _date(p["birth_date"])
        if born is None:  # year_of_birth is required by the CDM
            skipped += 1
            continue
        kept.add(p["id"])
        people.append(
            {
                "person_id": p["id"],
                "gender_concept_id": {"female": FEMALE, "male": MALE}.get(p["sex"], 0),
                "year_of_birth": born.year,
                "month_of_birth": born.month,
                "day_of_birth": born.day,
                "race_concept_id": 0,
                "ethnicity_concept_id": 0,
                "care_site_id": p["site_id"],
                "person_source_value": study_id(p["id"], key),
                "gender_source_value": p["sex"],
                "gender_source_concept_id": 0,
            }
        )
    tables.write("person", people)

    spans: dict[int, list[dt.date]] = {}

    def seen(person: int, *days: Any) -> None:
        for value in days:
            if value is not None:
                spans.setdefault(person, []).append(_date(value))  # type: ignore[arg-type]

    rows: list[Row] = []
    for person, found in conditions.items():
        if person not in kept:
            continue
        for c in found:
            rows.append(
                {
                    "condition_occurrence_id": c["id"],
                    "person_id": person,
                    "condition_concept_id": 0,
                    "condition_start_date": _d(c["onset_date"]),
                    "condition_type_concept_id": REGISTRY_TYPE,
                    "condition_source_value": c["icd10_code"],
                    "condition_source_concept_id": 0,
                    "condition_status_source_value": _trim(c["diagnosis_confirmation"]),
                }
            )
    tables.write("condition_occurrence", rows)

    visits, procedures, drugs, links = [], [], [], []
    for s in sessions:
        person = owner[s["course_id"]]
        if person not in kept:
            continue
        when = _d(s["session_date"])
        seen(person, s["session_date"])
        visit = s["id"]
        visits.append(
            {
                "visit_occurrence_id": visit,
                "person_id": person,
                "visit_concept_id": OUTPATIENT_VISIT,
                "visit_start_date": when,
                "visit_end_date": when,
                "visit_type_concept_id": REGISTRY_TYPE,
                "provider_id": s["practitioner_id"],
                "care_site_id": site_of.get(person),
                "visit_source_value": f"injection session {s['id']}",
                "visit_source_concept_id": 0,
            }
        )
        for target in s["targets"] or []:
            for level in target.get("levels") or [None]:
                ident = counter.take("procedure_occurrence")
                procedures.append(
                    {
                        "procedure_occurrence_id": ident,
                        "person_id": person,
                        "procedure_concept_id": 0,
                        "procedure_date": when,
                        "procedure_type_concept_id": REGISTRY_TYPE,
                        "modifier_concept_id": 0,
                        "quantity": None,
                        "provider_id": s["practitioner_id"],
                        "visit_occurrence_id": visit,
                        "procedure_source_value": _trim(
                            f"{target['target']} {level}" if level else target["target"]
                        ),
                        "procedure_source_concept_id": 0,
                        "modifier_source_value": target.get("side"),
                    }
                )
                links.append((s["course_id"], ident, PROCEDURE_OCCURRENCE_FIELD))
        concentration = s["concentration_percent"]
        agents = [
            (
                f"{s['agent']} {concentration:g}%" if concentration else s["agent"],
                s["total_volume_ml"],
            )
        ]
        if s["anesthetic"] and s["anesthetic"] != "none":
            agents.append((s["anesthetic"], None))
        for source, volume in agents:
            ident = counter.take("drug_exposure")
            drugs.append(
                {
                    "drug_exposure_id": ident,
                    "person_id": person,
                    "drug_concept_id": 0,
                    "drug_exposure_start_date": when,
                    "drug_exposure_end_date": when,
                    "drug_type_concept_id": REGISTRY_TYPE,
                    "quantity": volume,
                    "route_concept_id": 0,
                    "provider_id": s["practitioner_id"],
                    "visit_occurrence_id": visit,
                    "drug_source_value": _trim(source),
                    "drug_source_concept_id": 0,
                    "route_source_value": "injection",
                    "dose_unit_source_value": "mL" if volume is not None else None,
                }
            )
            links.append((s["course_id"], ident, DRUG_EXPOSURE_FIELD))
    tables.write("visit_occurrence", visits)
    tables.write("procedure_occurrence", procedures)
    tables.write("drug_exposure", drugs)

    measurements, observations = [], []
    instruments = catalogue()
    for a in assessments:
        person = a["patient_id"]
        if person not in kept:
            continue
        when = _d(a["assessed_on"])
        seen(person, a["assessed_on"])
        if a["score"] is not None:
            measurements.append(
                {
                    "measurement_id": counter.take("measurement"),
                    "person_id": person,
                    "measurement_concept_id": 0,
                    "measurement_date": when,
                    "measurement_type_concept_id": REGISTRY_TYPE,
                    "value_as_number": a["score"],
                    "unit_concept_id": 0,
                    "measurement_source_value": a["instrument"],
                    "measurement_source_concept_id": 0,
                }
            )
        known = instruments.get(a["instrument"])
        item_ids = [i.id for i in known.items] if known else []
        for n, answer in enumerate(a["items"] or []):
            item = item_ids[n] if n < len(item_ids) else f"item{n + 1}"
            value = float(answer) if isinstance(answer, bool | int | float) else None
            observations.append(
                {
                    "observation_id": counter.take("observation"),
                    "person_id": person,
                    "observation_concept_id": 0,
                    "observation_date": when,
                    "observation_type_concept_id": REGISTRY_TYPE,
                    "value_as_number": value,
                    "observation_source_value": _trim(f"{a['instrument']}.{item}"),
                    "observation_source_concept_id": 0,
                    "value_source_value": None if answer is None else _trim(str(answer)),
                }
            )
    for row in measures:
        person = row["patient_id"]
        if person not in kept:
            continue
        seen(person, row["measured_on"])
        measurements.append(
            {
                "measurement_id": counter.take("measurement"),
                "person_id": person,
                "measurement_concept_id": 0,
                "measurement_date": _d(row["measured_on"]),
                "measurement_type_concept_id": REGISTRY_TYPE,
                "value_as_number": row["value"],
                "unit_concept_id": UNITS.get(row["unit"] or "", 0),
                "measurement_source_value": _trim(row["measure_type"]),
                "measurement_source_concept_id": 0,
                "unit_source_value": _trim(row["unit"]),
                "value_source_value": _trim(row["finding"]),
            }
        )

    def observe(person: int, when: Any, source: str, **values: Any) -> None:
        seen(person, when)
        observations.append(
            {
                "observation_id": counter.take("observation"),
                "person_id": person,
                "observation_concept_id": 0,
                "observation_date": _d(when),
                "observation_type_concept_id": REGISTRY_TYPE,
                "observation_source_value": _trim(source),
                "observation_source_concept_id": 0,
                **values,
            }
        )

    for row in work:
        if row["patient_id"] in kept:
            observe(
                row["patient_id"],
                row["recorded_on"],
                "work_status",
                value_as_string=row["status"],
                value_source_value=row["status"],
            )
    for row in recurrences:
        person = owner[row["course_id"]]
        if person in kept:
            observe(
                person,
                row["event_date"],
                "recurrence",
                value_as_string=row["kind"],
                value_source_value=row["kind"],
            )
    for row in events:
        person = owner[row["course_id"]]
        if person in kept:
            observe(
                person,
                row["onset_date"],
                f"adverse_event {row['event_type']}",
                value_as_number=row["grade"],
                qualifier_source_value="serious" if row["serious"] else "non-serious",
                value_source_value=f"grade {row['grade']}",
            )
    tables.write("measurement", measurements)
    tables.write("observation", observations)

    episodes = []
    number: dict[int, int] = {}
    for c in sorted(courses, key=lambda c: (c["patient_id"], _d(c["start_date"]), c["id"])):
        person = c["patient_id"]
        if person not in kept:
            continue
        number[person] = number.get(person, 0) + 1
        seen(person, c["start_date"], c["end_date"])
        episodes.append(
            {
                "episode_id": c["id"],
                "person_id": person,
                "episode_concept_id": TREATMENT_REGIMEN,
                "episode_start_date": _d(c["start_date"]),
                "episode_end_date": _d(c["end_date"]),
                "episode_number": number[person],
                "episode_object_concept_id": 0,
                "episode_type_concept_id": REGISTRY_TYPE,
                "episode_source_value": f"prolotherapy course ({c['status']})",
                "episode_source_concept_id": 0,
            }
        )
    tables.write("episode", episodes)
    tables.write(
        "episode_event",
        [
            {"episode_id": course, "event_id": event, "episode_event_field_concept_id": kind}
            for course, event, kind in links
        ],
    )
    tables.write(
        "observation_period",
        [
            {
                "observation_period_id": person,
                "person_id": person,
                "observation_period_start_date": _d(min(days)),
                "observation_period_end_date": _d(max(days)),
                "period_type_concept_id": REGISTRY_TYPE,
            }
            for person, days in sorted(spans.items())
        ],
    )
    return skipped


def files(folder: Path) -> Iterator[Path]:
    for table in COLUMNS:
        yield folder / f"{table}.csv"

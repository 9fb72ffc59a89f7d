"""`prolo export deidentified`: every clinical table, de-identified by HIPAA Safe Harbor
(45 CFR 164.514(b)(2)), as CSV or Parquet.

Each exported table has a :class:`Policy` that names what becomes of every one of its columns:

- record ids and references to records become codes: a keyed hash (HMAC-SHA256) of the record,
  the same in every export made with the registry's key (:func:`registry_study_key`); patients
  get their study id (:func:`prolo.interop.deidentify.study_id`), the one the analysis files use;
- dates become whole days from the first injection (of the row's course when it has one, else of
  the patient's first course; a course with no injection yet counts from its planned start);
- the birth date becomes the age at the first injection, in whole years, over 89 pooled as 90;
- names, contact details, record numbers, certificate numbers, user names, free text and the
  bookkeeping timestamps are dropped; ZIP codes (none are stored today) keep their first three
  digits, or ``000`` where those three digits cover 20,000 people or fewer;
- coded values (vocabulary codes, numbers, flags) are kept.

Retired (deleted) rows are left out. Rows are written in the order of their codes, which is
random, so that the order of entry does not survive either. A column that no policy names fails
:func:`unclassified_columns` (tested), so a new column cannot leak by being forgotten: until it
is classified it is dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Table, func, select
from sqlalchemy.orm import Session

from prolo.db import Base
from prolo.interop.deidentify import AGE_CAP, study_id

Format = Literal["csv", "parquet"]
KEY_SETTING = "study_id_key"

# The three-digit ZIP prefixes of 20,000 people or fewer (2000 Census), which Safe Harbor
# requires to become 000 (HHS guidance on 45 CFR 164.514(b)(2)(i)(B)).
RESTRICTED_ZIP3 = frozenset(
    [
        "036",
        "059",
        "063",
        "102",
        "203",
        "556",
        "692",
        "790",
        "821",
        "823",
        "830",
        "831",
        "878",
        "879",
        "884",
        "890",
        "893",
    ]
)
RECORD_COLUMNS = ("created_at", "updated_at", "retired_at", "retired_reason")


def zip3(zip_code: str | None) -> str | None:
    """A ZIP code reduced as Safe Harbor allows: its first three digits, or 000."""
    if zip_code is None:
        return None
    digits = "".join(ch for ch in str(zip_code) if ch.isdigit())
    if len(digits) < 3:
        return "000"
    prefix = digits[:3]
    return "000" if prefix in RESTRICTED_ZIP3 else prefix


def age_in_years(birth: dt.date | None, on: dt.date | None) -> int | None:
    """Whole years of age on a day, over 89 pooled as 90 (Safe Harbor)."""
    if birth is None or on is None:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return min(years, AGE_CAP)


def record_code(entity: str, record_id: int, key: bytes) -> str:
    """The code that replaces a record's id in every de-identified export: patients get their
    study id (``P`` and 16 hex digits), other records ``<entity>-`` and 16 hex digits."""
    if entity == "patient":
        return study_id(record_id, key)
    digest = hmac.new(key, f"{entity}:{int(record_id)}".encode(), hashlib.sha256).hexdigest()
    return f"{entity}-{digest[:16]}"


def registry_study_key(session: Session, configured: str | None) -> bytes:
    """The key of study ids and record codes: ``PROLO_STUDY_ID_KEY`` when set, else a random
    key drawn once and kept in the registry's settings, so that every export of this registry
    names a patient alike (and nobody without database access can go back from a code)."""
    if configured:
        return configured.encode("utf-8")
    from prolo.followup.models import RegistrySetting

    stored = session.get(RegistrySetting, KEY_SETTING)
    if stored is None:
        stored = RegistrySetting(key=KEY_SETTING, value=secrets.token_hex(32))
        session.add(stored)
        session.flush()
    return str(stored.value).encode("utf-8")


@dataclass(frozen=True)
class Policy:
    """What becomes of each column of one table (see the module's docstring)."""

    entity: str  # the code's name for this table's records
    codes: dict[str, str] = field(default_factory=dict)  # reference column -> entity
    days: tuple[str, ...] = ()  # dates -> <column>_day, days from the first injection
    keep: tuple[str, ...] = ()  # coded values, kept as they are
    drop: tuple[str, ...] = ()  # identifiers and free text
    zips: tuple[str, ...] = ()  # ZIP codes -> three digits or 000
    age_from: str | None = None  # birth date -> age_at_first_injection

    def classified(self) -> set[str]:
        return {
            "id",
            *self.codes,
            *self.days,
            *self.keep,
            *self.drop,
            *self.zips,
            *RECORD_COLUMNS,
            *([self.age_from] if self.age_from else []),
        }


POLICIES: dict[str, Policy] = {
    "sites": Policy("site", drop=("code", "name")),
    "practitioners": Policy(
        "practitioner",
        keep=("degree", "specialty", "years_in_practice", "prior_prolotherapy_procedures"),
        drop=("name",),
    ),
    "practitioner_sites": Policy(
        "practitioner_site", codes={"practitioner_id": "practitioner", "site_id": "site"}
    ),
    "training_records": Policy(
        "training_record",
        codes={"practitioner_id": "practitioner"},
        keep=("organization", "hours", "verified"),
        drop=("organization_other", "course", "completed_on", "certificate_id"),
    ),
    "patients": Policy(
        "patient",
        codes={"site_id": "site"},
        days=("consent_date",),
        keep=("sex", "consent_status"),
        drop=("external_id", "given_name", "family_name", "email", "phone"),
        age_from="birth_date",
    ),
    "conditions": Policy(
        "condition",
        codes={"patient_id": "patient"},
        days=("onset_date",),
        keep=("icd10_code", "region", "diagnosis_confirmation"),
        drop=("notes",),
    ),
    "prior_treatments": Policy(
        "prior_treatment",
        codes={"patient_id": "patient", "condition_id": "condition"},
        days=("start_date", "end_date"),
        keep=("treatment_type", "result"),
    ),
    "treatment_courses": Policy(
        "course",
        codes={
            "patient_id": "patient",
            "condition_id": "condition",
            "practitioner_id": "practitioner",
        },
        days=("start_date", "end_date"),
        keep=("planned_sessions", "status"),
        drop=("stop_reason", "eligibility_warnings"),
    ),
    "injection_sessions": Policy(
        "injection_session",
        codes={"course_id": "course", "practitioner_id": "practitioner"},
        days=("session_date",),
        keep=(
            "agent",
            "concentration_percent",
            "anesthetic",
            "total_volume_ml",
            "injection_count",
            "guidance",
            "targets",
        ),
    ),
    "co_interventions": Policy(
        "co_intervention",
        codes={"course_id": "course"},
        days=("start_date", "end_date"),
        keep=("intervention_type", "adherence_percent"),
        drop=("notes",),
    ),
    "adverse_events": Policy(
        "adverse_event",
        codes={"course_id": "course", "session_id": "injection_session"},
        days=("onset_date", "resolution_date"),
        keep=("event_type", "grade", "serious"),
        drop=("description",),
    ),
    "recurrences": Policy(
        "recurrence",
        codes={"course_id": "course"},
        days=("event_date",),
        keep=("kind",),
        drop=("description",),
    ),
    "work_statuses": Policy(
        "work_status",
        codes={"patient_id": "patient", "course_id": "course"},
        days=("recorded_on",),
        keep=("status",),
    ),
    "objective_measures": Policy(
        "objective_measure",
        codes={"patient_id": "patient", "course_id": "course"},
        days=("measured_on",),
        keep=("measure_type", "value", "unit", "method", "structure", "side"),
        drop=("finding",),
    ),
    "assessments": Policy(
        "assessment",
        codes={"patient_id": "patient", "course_id": "course"},
        days=("assessed_on",),
        keep=(
            "instrument",
            "source",
            "items",
            "score",
            "raw_score",
            "scorable",
            "score_only",
            "flags",
            "day",
            "time_point",
        ),
    ),
    "due_questionnaires": Policy(
        "due_questionnaire",
        codes={"course_id": "course"},
        days=("due_on", "window_opens", "window_closes", "answered_at"),
        keep=("time_point", "instruments", "status"),
    ),
    "tracing_draws": Policy(
        "tracing_draw",
        keep=("time_point", "fraction", "probability", "seed", "eligible", "sampled"),
        drop=("drawn_on", "drawn_by"),
    ),
    "tracing_members": Policy(
        "tracing_member",
        codes={"draw_id": "tracing_draw", "course_id": "course"},
        keep=("time_point", "sampled"),
    ),
}


def clinical_tables() -> dict[str, Table]:
    """The tables that are exported, from the models (imported so that all are registered)."""
    import prolo.assessments.models
    import prolo.followup.models
    import prolo.registry.models  # noqa: F401

    tables = Base.metadata.tables
    return {name: tables[name] for name in POLICIES if name in tables}


def unclassified_columns() -> dict[str, set[str]]:
    """Columns of exported tables that no policy names (they are dropped until classified)."""
    found = {}
    for name, table in clinical_tables().items():
        missing = {c.name for c in table.columns} - POLICIES[name].classified()
        if missing:
            found[name] = missing
    return found


@dataclass
class Anchors:
    """The first injection of each course (its planned start when it has none) and of each
    patient (the earliest of their courses')."""

    course: dict[int, dt.date]
    patient: dict[int, dt.date]

    @classmethod
    def load(cls, session: Session) -> Anchors:
        from prolo.registry.models import InjectionSession, TreatmentCourse

        first = (
            select(
                InjectionSession.course_id,
                func.min(InjectionSession.session_date).label("first"),
            )
            .where(InjectionSession.retired_at.is_(None))
            .group_by(InjectionSession.course_id)
            .subquery()
        )
        rows = session.execute(
            select(TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.start_date)
            .add_columns(first.c.first)
            .outerjoin(first, first.c.course_id == TreatmentCourse.id)
            .where(TreatmentCourse.retired_at.is_(None))
        )
        course: dict[int, dt.date] = {}
        patient: dict[int, dt.date] = {}
        for course_id, patient_id, start, injected in rows:
            anchor = _as_date(injected) or _as_date(start)
            if anchor is None:
                continue
            course[course_id] = anchor
            if patient_id not in patient or anchor < patient[patient_id]:
                patient[patient_id] = anchor
        return cls(course, patient)

    def of(self, table: str, row: dict[str, Any]) -> dt.date | None:
        course_id = row["id"] if table == "treatment_courses" else row.get("course_id")
        if course_id is not None and course_id in self.course:
            return self.course[course_id]
        patient_id = row["id"] if table == "patients" else row.get("patient_id")
        if patient_id is not None:
            return self.patient.get(patient_id)
        return None


def day_column(column: str) -> str:
    """``onset_date`` -> ``onset_day``, ``recorded_on`` -> ``recorded_day``, …"""
    for suffix in ("_date", "_on", "_at"):
        if column.endswith(suffix):
            return column.removesuffix(suffix) + "_day"
    return column + "_day"


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _arrow_type(column: Any) -> pa.DataType:
    kind = column.type
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    if isinstance(kind, Date | DateTime):
        return pa.int64()
    return pa.string()  # strings, and JSON as its text


def _kept(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


@dataclass
class ExportReport:
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def export(
    session: Session, out: Path, fmt: Format, *, key: bytes, chunk_rows: int = 20_000
) -> ExportReport:
    """Write ``<table>.csv`` or ``<table>.parquet`` for every clinical table into ``out``, and
    ``deidentification.json`` describing what was done to each column."""
    out.mkdir(parents=True, exist_ok=True)
    anchors = Anchors.load(session)
    report = ExportReport()
    description: dict[str, Any] = {
        "standard": "HIPAA Safe Harbor, 45 CFR 164.514(b)(2)",
        "dates": "whole days from the first injection (of the row's course, else the "
        "patient's first course)",
        "codes": "keyed HMAC-SHA256 of the record; the same in every export with this key",
        "tables": {},
    }
    codes_cache: dict[tuple[str, int], str] = {}

    def code(entity: str, record_id: int | None) -> str | None:
        if record_id is None:
            return None
        cached = codes_cache.get((entity, record_id))
        if cached is None:
            cached = codes_cache[(entity, record_id)] = record_code(entity, record_id, key)
        return cached

    for name, table in clinical_tables().items():
        policy = POLICIES[name]
        columns = {c.name: c for c in table.columns}
        schema_fields = [pa.field(policy.entity, pa.string())]
        schema_fields += [pa.field(c.removesuffix("_id"), pa.string()) for c in policy.codes]
        if policy.age_from:
            schema_fields.append(pa.field("age_at_first_injection", pa.int64()))
        schema_fields += [pa.field(day_column(c), pa.int64()) for c in policy.days]
        schema_fields += [pa.field(c, pa.string()) for c in policy.zips]
        schema_fields += [pa.field(c, _arrow_type(columns[c])) for c in policy.keep]
        schema = pa.schema(schema_fields)
        read = [c for c in columns if c in policy.classified() - set(policy.drop)]
        query = select(*(table.c[c] for c in read)).order_by(table.c.id)
        if "retired_at" in columns:
            query = query.where(table.c.retired_at.is_(None))
        values: dict[str, list[Any]] = {f.name: [] for f in schema_fields}
        for row in session.execute(query.execution_options(yield_per=chunk_rows)).mappings():
            anchor = anchors.of(name, dict(row))
            values[policy.entity].append(code(policy.entity, row["id"]))
            for column, entity in policy.codes.items():
                values[column.removesuffix("_id")].append(code(entity, row[column]))
            if policy.age_from:
                values["age_at_first_injection"].append(
                    age_in_years(_as_date(row[policy.age_from]), anchor)
                )
            for column in policy.days:
                moment = _as_date(row[column])
                day = (moment - anchor).days if moment and anchor else None
                values[day_column(column)].append(day)
            for column in policy.zips:
                values[column].append(zip3(row[column]))
            for column in policy.keep:
                values[column].append(_kept(row[column]))
        frame = pa.table(values, schema=schema).sort_by(policy.entity)
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(frame, path)
        else:
            pa_csv.write_csv(frame, path)
        report.files.append(path)
        report.rows[name] = frame.num_rows
        description["tables"][name] = {
            "rows": frame.num_rows,
            "code": policy.entity,
            "codes": {c.removesuffix("_id"): e for c, e in policy.codes.items()},
            "days": [day_column(c) for c in policy.days],
            "kept": list(policy.keep),
            "dropped": sorted(
                {*policy.drop, "id", *([policy.age_from] if policy.age_from else [])}
                | (set(RECORD_COLUMNS) & set(columns))
            ),
        }
    readme = out / "deidentification.json"
    readme.write_text(json.dumps(description, indent=2) + "\n")
    report.files.append(readme)
    return report

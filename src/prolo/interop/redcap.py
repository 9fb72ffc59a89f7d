"""REDCap projects in: the data dictionary, the records ("raw" CSV export) and a mapping file.

The mapping (YAML, see examples/redcap/mapping.yaml and docs/exchange.md) says which REDCap
field, event and choice code becomes which registry table, field, time point and vocabulary
code. Rows become frames of the bulk import path, so every value passes the API's rules.

* **Rejected rows** are reported with the REDCap record id, event, field and reason. A record
  with any rejected row is not imported at all (its patient, condition, course, sessions and
  answers hang together); the other records are.
* **Idempotent**: every imported row keeps its REDCap key (``external_keys``: record, event,
  repeating instrument and instance). Importing the project again adds what is new and turns
  changed values into audited updates through the registry's services; nothing is duplicated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from prolo.errors import DomainError
from prolo.interop.bulk import Importer
from prolo.interop.models import ExternalKey
from prolo.interop.problems import Rejection

MISSING = ("not_asked", "missing", "refused")
EVENT = "redcap_event_name"
REPEAT_INSTRUMENT = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"
UPDATE_REASON = "REDCap re-import: value changed in the project"


# --- the mapping file ---------------------------------------------------------------------------


class FieldMap(BaseModel):
    """A registry field from a REDCap field (choice codes translated) or a constant."""

    model_config = ConfigDict(extra="forbid")

    field: str | None = None
    value: str | int | float | bool | None = None
    codes: dict[str, str | int] | None = None

    def describe(self) -> str:
        return self.field or "(constant in the mapping)"


def _shorthand(value: Any) -> Any:
    """``birth_date: dob`` is short for ``birth_date: {field: dob}``."""
    if isinstance(value, dict):
        return {k: {"field": v} if isinstance(v, str) else v for k, v in value.items()}
    return value


class TargetsMap(BaseModel):
    """Injection targets of one session: target (radio, or checkbox for several), levels (text,
    comma-separated, e.g. "L4-L5, L5-S1") and side."""

    model_config = ConfigDict(extra="forbid")

    target: FieldMap
    levels: FieldMap | None = None
    side: FieldMap | None = None

    _fields = field_validator("target", "levels", "side", mode="before")(
        lambda v: {"field": v} if isinstance(v, str) else v
    )


class TableMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str | None = None  # the event holding the form (longitudinal projects)
    repeating_instrument: str | None = None  # one registry row per instance
    fields: dict[str, FieldMap]
    targets: TargetsMap | None = None

    _fields = field_validator("fields", mode="before")(_shorthand)


class AssessmentMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: str
    events: dict[str, str]  # REDCap event → registry time point
    date: str
    items: list[str] = Field(min_length=1)


class RedcapMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(min_length=1, max_length=100)
    record_id: str = "record_id"
    site: str  # the registry site code of every record
    missing_codes: dict[str, str] = Field(default_factory=dict)  # item answer → missing code
    patient: TableMap
    condition: TableMap
    treatment_course: TableMap
    injection_session: TableMap | None = None
    assessments: list[AssessmentMap] = Field(default_factory=list)

    def tables(self) -> list[tuple[str, TableMap]]:
        found = [
            ("patients", self.patient),
            ("conditions", self.condition),
            ("treatment_courses", self.treatment_course),
        ]
        if self.injection_session is not None:
            found.append(("injection_sessions", self.injection_session))
        return found


class MappingError(ValueError):
    """The mapping does not fit the dictionary (or is not a mapping at all)."""


def load_mapping(path: Path) -> RedcapMapping:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"cannot read the mapping {path}: {error}") from error
    try:
        return RedcapMapping.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise MappingError(f"mapping {path}: {problems}") from error


# --- the data dictionary ----------------------------------------------------------------------


@dataclass(frozen=True)
class DictionaryField:
    name: str
    form: str
    kind: str  # REDCap field type: text, radio, dropdown, checkbox, yesno, truefalse, calc, …
    choices: dict[str, str]


FIXED_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


def _choices(text: str) -> dict[str, str]:
    """REDCap's "1, Female | 2, Male" into {"1": "Female", "2": "Male"}."""
    found = {}
    for part in text.split("|"):
        code, _, label = part.strip().partition(",")
        if code.strip():
            found[code.strip()] = label.strip()
    return found


def load_dictionary(path: Path) -> dict[str, DictionaryField]:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise MappingError(f"cannot read the data dictionary {path}: {error}") from error
    columns = {c.lower(): c for c in frame.columns}

    def column(*starts: str) -> str:
        for name_lower, name in columns.items():
            if any(name_lower.startswith(s) for s in starts):
                return name
        raise MappingError(f"data dictionary {path}: no column {starts[0]!r}")

    name, form, kind = column("variable"), column("form name"), column("field type")
    choices = column("choices")
    fields = {}
    for record in frame.to_dict("records"):
        field_kind = str(record[kind]).strip()
        listed = FIXED_CHOICES.get(field_kind) or (
            _choices(str(record[choices]))
            if field_kind in ("radio", "dropdown", "checkbox")
            else {}
        )
        field_name = str(record[name]).strip()
        fields[field_name] = DictionaryField(
            field_name, str(record[form]).strip(), field_kind, listed
        )
    return fields


def check_mapping(mapping: RedcapMapping, dictionary: dict[str, DictionaryField]) -> None:
    """Every mapped field exists and every mapped choice code is one of the field's choices."""
    errors: list[str] = []

    def check(where: str, spec: FieldMap | None) -> None:
        if spec is None or spec.field is None:
            return
        known = dictionary.get(spec.field)
        if known is None:
            errors.append(f"{where}: REDCap field {spec.field!r} is not in the data dictionary")
            return
        if spec.codes and known.choices:
            for code in spec.codes:
                if code not in known.choices:
                    errors.append(
                        f"{where}: code {code!r} is not a choice of {spec.field} "
                        f"({', '.join(known.choices)})"
                    )

    if mapping.record_id not in dictionary:
        errors.append(f"record_id: {mapping.record_id!r} is not in the data dictionary")
    for table, spec in mapping.tables():
        for name, field_map in spec.fields.items():
            check(f"{table}.{name}", field_map)
        if spec.targets is not None:
            check(f"{table}.targets.target", spec.targets.target)
            check(f"{table}.targets.levels", spec.targets.levels)
            check(f"{table}.targets.side", spec.targets.side)
    for assessment in mapping.assessments:
        for item in [assessment.date, *assessment.items]:
            check(f"assessments.{assessment.instrument}", FieldMap(field=item))
    if errors:
        raise MappingError("the mapping does not fit the data dictionary: " + "; ".join(errors))


# --- records into rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A rejected REDCap row: where it is in the project and why."""

    record: str
    event: str
    field: str
    reason: str
    instance: str = ""

    def __str__(self) -> str:
        where = f"record {self.record}, event {self.event or '-'}"
        if self.instance:
            where += f", instance {self.instance}"
        return f"{where}, field {self.field}: {self.reason}"


@dataclass
class Origin:
    record: str
    event: str
    instance: str
    key: str
    fields: dict[str, str]  # registry field → REDCap field


@dataclass
class Candidate:
    """One registry row built from the project: its table, values, REDCap key and origin."""

    table: str
    values: dict[str, Any]
    origin: Origin
    existing_id: int | None = None


@dataclass
class RedcapReport:
    records: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    rejected_records: list[str] = field(default_factory=list)


REFERENCED = {
    "patient_id": "patients",
    "condition_id": "conditions",
    "course_id": "treatment_courses",
}
ENTITY_OF = {
    "patients": "patient",
    "conditions": "condition",
    "treatment_courses": "treatment_course",
    "injection_sessions": "injection_session",
    "assessments": "assessment",
}


class Reader:
    """Turns the records export into candidate rows, noting REDCap-level problems."""

    def __init__(
        self,
        mapping: RedcapMapping,
        dictionary: dict[str, DictionaryField],
        records: pd.DataFrame,
    ) -> None:
        self.mapping = mapping
        self.dictionary = dictionary
        self.records = records
        self.problems: list[Problem] = []
        for column in (EVENT, REPEAT_INSTRUMENT, REPEAT_INSTANCE):
            if column not in records.columns:
                records[column] = ""
        if mapping.record_id not in records.columns:
            raise MappingError(f"the records have no column {mapping.record_id!r}")

    def _problem(self, row: pd.Series, field_name: str, reason: str) -> None:
        self.problems.append(
            Problem(
                str(row[self.mapping.record_id]),
                str(row[EVENT]),
                field_name,
                reason,
                str(row[REPEAT_INSTANCE]),
            )
        )

    def value(self, row: pd.Series, spec: FieldMap) -> tuple[Any, bool]:
        """(the registry value or None, whether it was usable)."""
        if spec.field is None:
            return (None if spec.value is None else str(spec.value)), True
        if spec.field not in row.index:
            self._problem(row, spec.field, "the column is not in the records export")
            return None, False
        raw = str(row[spec.field]).strip()
        if raw == "":
            return None, True
        if spec.codes is not None:
            if raw not in spec.codes:
                choices = self.dictionary.get(spec.field)
                label = choices.choices.get(raw) if choices else None
                shown = f"{raw} ({label})" if label else raw
                self._problem(
                    row,
                    spec.field,
                    f"choice {shown} has no registry code in the mapping "
                    f"(mapped: {', '.join(spec.codes)})",
                )
                return None, False
            return str(spec.codes[raw]), True
        return raw, True

    def _checked(self, row: pd.Series, spec: FieldMap) -> list[str] | None:
        """Codes ticked in a checkbox field (columns ``field___code``)."""
        assert spec.field is not None
        known = self.dictionary.get(spec.field)
        if known is None or known.kind != "checkbox":
            return None
        ticked = [
            code
            for code in known.choices
            if str(row.get(f"{spec.field}___{code.lower()}", "")).strip() == "1"
        ]
        return ticked

    def targets(self, row: pd.Series, spec: TargetsMap) -> str | None:
        ticked = self._checked(row, spec.target)
        codes: list[Any]
        ok = True
        if ticked is not None:
            codes = []
            for code in ticked:
                if spec.target.codes is None or code not in spec.target.codes:
                    self._problem(row, f"{spec.target.field}___{code}", "no registry code")
                    ok = False
                else:
                    codes.append(str(spec.target.codes[code]))
        else:
            single, ok = self.value(row, spec.target)
            codes = [single] if single is not None else []
        levels: list[str] = []
        side = None
        if spec.levels is not None:
            text, fine = self.value(row, spec.levels)
            ok &= fine
            levels = [p.strip().upper() for p in (text or "").split(",") if p.strip()]
        if spec.side is not None:
            side, fine = self.value(row, spec.side)
            ok &= fine
        if not ok:
            return None
        return json.dumps([{"target": c, "levels": levels, "side": side} for c in codes])

    def rows_of(self, spec: TableMap) -> pd.DataFrame:
        records = self.records
        if spec.repeating_instrument is not None:
            chosen = records[records[REPEAT_INSTRUMENT] == spec.repeating_instrument]
        else:
            chosen = records[records[REPEAT_INSTRUMENT] == ""]
        if spec.event is not None:
            chosen = chosen[chosen[EVENT] == spec.event]
        return chosen

    def candidates(self) -> list[Candidate]:
        found: list[Candidate] = []
        record_column = self.mapping.record_id
        for table, spec in self.mapping.tables():
            rows = self.rows_of(spec)
            if spec.repeating_instrument is None:
                missing = set(self.records[record_column]) - set(rows[record_column])
                for record in sorted(missing):
                    self.problems.append(
                        Problem(
                            record,
                            spec.event or "",
                            "(form)",
                            f"no row for the {table} form"
                            + (f" in event {spec.event}" if spec.event else ""),
                        )
                    )
            for _, row in rows.iterrows():
                values: dict[str, Any] = {}
                fine = True
                for name, field_map in spec.fields.items():
                    values[name], ok = self.value(row, field_map)
                    fine &= ok
                if spec.targets is not None:
                    values["targets"] = self.targets(row, spec.targets)
                    fine &= values["targets"] is not None
                record = str(row[record_column])
                event = str(row[EVENT])
                instance = str(row[REPEAT_INSTANCE])
                if spec.repeating_instrument is not None:
                    key = f"{record}/{event}/{spec.repeating_instrument}/{instance}"
                else:
                    key = f"{record}/{table}"
                origin = Origin(
                    record,
                    event,
                    instance,
                    key,
                    {name: f.describe() for name, f in spec.fields.items()}
                    | ({"targets": spec.targets.target.describe()} if spec.targets else {}),
                )
                if fine:
                    found.append(Candidate(table, values, origin))
        found.extend(self.assessment_candidates())
        return found

    def assessment_candidates(self) -> list[Candidate]:
        found = []
        record_column = self.mapping.record_id
        plain = self.records[self.records[REPEAT_INSTRUMENT] == ""]
        for spec in self.mapping.assessments:
            for event in spec.events:
                rows = plain[plain[EVENT] == event] if event else plain
                for _, row in rows.iterrows():
                    answers = [str(row.get(item, "")).strip() for item in spec.items]
                    date = str(row.get(spec.date, "")).strip()
                    if not date and not any(answers):
                        continue  # the form was not filled in at this event
                    items = [self._answer(a) for a in answers]
                    origin = Origin(
                        str(row[record_column]),
                        str(row[EVENT]),
                        "",
                        f"{row[record_column]}/{row[EVENT]}/{spec.instrument}",
                        {"assessed_on": spec.date, "items": ", ".join(spec.items)},
                    )
                    found.append(
                        Candidate(
                            "assessments",
                            {
                                "instrument": spec.instrument,
                                "assessed_on": date or None,
                                "items": json.dumps(items),
                            },
                            origin,
                        )
                    )
        return found

    def _answer(self, raw: str) -> Any:
        if raw == "":
            return None
        if raw in self.mapping.missing_codes:
            return self.mapping.missing_codes[raw]
        try:
            number = float(raw)
        except ValueError:
            return raw  # the import's item rules reject it, naming the item
        return int(number) if number.is_integer() else number


# --- into the registry ------------------------------------------------------------------------


def system_name(mapping: RedcapMapping) -> str:
    return f"redcap:{mapping.project}"


def _known_keys(importer: Importer, system: str) -> dict[str, tuple[str, int]]:
    with importer.engine.connect() as connection:
        rows = connection.execute(
            select(ExternalKey.key, ExternalKey.entity, ExternalKey.entity_id).where(
                ExternalKey.system == system
            )
        ).all()
    return {key: (entity, entity_id) for key, entity, entity_id in rows}


def _site_id(importer: Importer, code: str) -> int:
    from prolo.registry.models import Site

    with importer.engine.connect() as connection:
        found = connection.scalar(select(Site.id).where(Site.code == code))
    if found is None:
        raise MappingError(f"site: no site with code {code!r} in the registry")
    return int(found)


def _link(
    candidates: list[Candidate], keys: dict[str, tuple[str, int]], importer: Importer
) -> None:
    """Give every candidate its registry id (the known one, or a fresh one) and its references."""
    ids: dict[tuple[str, str], int] = {}  # (record, table) → id, for the one-per-record tables
    by_table: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_table.setdefault(candidate.table, []).append(candidate)
    for table, group in by_table.items():
        fresh = [c for c in group if c.origin.key not in keys]
        new_ids = iter(importer.next_ids(table, len(fresh)).tolist())
        for candidate in group:
            known = keys.get(candidate.origin.key)
            if known is not None:
                candidate.existing_id = known[1]
                candidate.values["id"] = known[1]
            else:
                candidate.values["id"] = next(new_ids)
            if table in ("patients", "conditions", "treatment_courses"):
                ids[(candidate.origin.record, table)] = candidate.values["id"]
    practitioner = {  # a session without its own practitioner gets the course's
        c.origin.record: c.values.get("practitioner_id")
        for c in candidates
        if c.table == "treatment_courses"
    }
    for candidate in candidates:
        record = candidate.origin.record
        if candidate.table in ("conditions", "treatment_courses", "assessments"):
            candidate.values["patient_id"] = ids.get((record, "patients"))
        if candidate.table == "treatment_courses":
            candidate.values["condition_id"] = ids.get((record, "conditions"))
        if candidate.table in ("injection_sessions", "assessments"):
            candidate.values["course_id"] = ids.get((record, "treatment_courses"))
        if candidate.table == "injection_sessions" and not candidate.values.get("practitioner_id"):
            candidate.values["practitioner_id"] = practitioner.get(record)


def _frames(
    candidates: Iterable[Candidate],
) -> tuple[dict[str, pd.DataFrame], dict[str, list[Candidate]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    origins: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        rows.setdefault(candidate.table, []).append(candidate.values)
        origins.setdefault(candidate.table, []).append(candidate)
    frames = {}
    for table, values in rows.items():
        frame = pd.DataFrame(values)
        for column in frame.columns:
            if column != "id":
                frame[column] = frame[column].map(lambda v: None if v is None else str(v))
        frames[table] = frame
    return frames, origins


def _problem_of(rejection: Rejection, origins: dict[str, list[Candidate]]) -> Problem:
    candidate = origins[rejection.table][rejection.row - 1]
    redcap_field = candidate.origin.fields.get(rejection.field, rejection.field)
    return Problem(
        candidate.origin.record,
        candidate.origin.event,
        redcap_field,
        f"{rejection.reason} (registry {rejection.table}.{rejection.field})",
        candidate.origin.instance,
    )


def _follows(rejection: Rejection, fresh: set[tuple[str, int]]) -> bool:
    """The rejection only says that a row it refers to (a new row of this batch) is absent."""
    if not rejection.field.endswith("_id") or not rejection.reason.startswith("no "):
        return False
    table = REFERENCED.get(rejection.field)
    tail = rejection.reason.rsplit(" ", 1)[-1]
    return table is not None and tail.isdigit() and (table, int(tail)) in fresh


def _differences(session: Session, candidate: Candidate) -> tuple[Any, dict[str, Any]]:
    """The stored record and the mapped values that differ from it."""
    from prolo.assessments.models import Assessment
    from prolo.registry.entities import ENTITIES

    entity = ENTITY_OF[candidate.table]
    model = Assessment if entity == "assessment" else ENTITIES[entity].model
    record = session.get(model, candidate.existing_id)
    if record is None:
        return None, {}
    schema = _update_schema(entity)
    wanted = {
        k: (json.loads(v) if k in ("targets", "items") and isinstance(v, str) else v)
        for k, v in candidate.values.items()
        if k not in ("id", "instrument") and k in schema.model_fields
    }
    parsed = schema.model_validate({**wanted, "reason": UPDATE_REASON})
    values = parsed.model_dump(mode="python", exclude_unset=True, exclude={"reason"})
    changed = {}
    for key, value in values.items():
        current = getattr(record, key)
        if key == "targets":
            current = [
                {"target": t.get("target"), "levels": t.get("levels", []), "side": t.get("side")}
                for t in current
            ]
        if current != value:
            changed[key] = value
    return record, changed


def _update_schema(entity: str) -> type[BaseModel]:
    from prolo.assessments.schemas import AssessmentUpdate
    from prolo.registry.entities import ENTITIES

    return AssessmentUpdate if entity == "assessment" else ENTITIES[entity].update


def _apply_updates(
    importer: Importer, candidates: list[Candidate], report: RedcapReport, dry_run: bool
) -> set[str]:
    """Audited updates of changed values, one savepoint per record; the records that failed."""
    from prolo.assessments import service as assessments
    from prolo.db import transaction
    from prolo.registry import service as registry
    from prolo.registry.entities import ENTITIES

    failed: set[str] = set()
    by_record: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_record.setdefault(candidate.origin.record, []).append(candidate)
    with transaction(importer.engine) as session:
        for record, group in by_record.items():
            counts: dict[str, int] = {}
            try:
                with session.begin_nested():
                    for candidate in group:
                        stored, changed = _differences(session, candidate)
                        if stored is None or not changed:
                            report.unchanged += 1
                            continue
                        entity = ENTITY_OF[candidate.table]
                        data = _update_schema(entity).model_validate(
                            {**changed, "reason": f"{UPDATE_REASON} (record {record})"}
                        )
                        if entity == "assessment":
                            assessments.update(
                                session,
                                stored.id,
                                data,  # type: ignore[arg-type]
                                actor=importer.actor,
                                schedule=importer.schedule,
                            )
                        else:
                            registry.update(
                                session,
                                ENTITIES[entity],
                                stored.id,
                                data,  # type: ignore[arg-type]
                                actor=importer.actor,
                            )
                        counts[candidate.table] = counts.get(candidate.table, 0) + 1
            except (DomainError, ValidationError) as error:
                failed.add(record)
                report.problems.extend(_update_problems(candidate, error))
                continue
            for table, count in counts.items():
                report.updated[table] = report.updated.get(table, 0) + count
        if dry_run:
            session.rollback()
    return failed


def _update_problems(candidate: Candidate, error: Exception) -> list[Problem]:
    origin = candidate.origin
    if isinstance(error, DomainError):
        pairs = [(e.field, e.reason) for e in error.errors] or [("(record)", str(error))]
    else:
        assert isinstance(error, ValidationError)
        pairs = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in error.errors()]
    return [
        Problem(origin.record, origin.event, origin.fields.get(f, f), r, origin.instance)
        for f, r in pairs
    ]


RECORDS_PER_BATCH = 5_000


def import_project(
    url: str,
    mapping: RedcapMapping,
    dictionary: dict[str, DictionaryField],
    records: pd.DataFrame,
    *,
    dry_run: bool = False,
    importer: Importer | None = None,
    records_per_batch: int = RECORDS_PER_BATCH,
) -> RedcapReport:
    """Import (or, with ``dry_run``, only check) a REDCap project's records, ``records_per_batch``
    records at a time (memory stays bounded by a batch)."""
    from prolo.security.principal import system

    check_mapping(mapping, dictionary)
    importer = importer or Importer(url, actor=system(f"redcap:{mapping.project}"))
    Reader(mapping, dictionary, records.head(0).copy())  # the columns it needs are there
    site_id = _site_id(importer, mapping.site)
    keys = _known_keys(importer, system_name(mapping))
    report = RedcapReport(records=int(records[mapping.record_id].nunique()))
    ids = pd.unique(records[mapping.record_id])
    bad: set[str] = set()
    for start in range(0, len(ids), records_per_batch):
        chosen = set(ids[start : start + records_per_batch])
        part = records[records[mapping.record_id].isin(chosen)].copy()
        bad |= _import_batch(
            importer, mapping, dictionary, part, site_id, keys, report, dry_run=dry_run
        )
    report.rejected_records = sorted(bad, key=_natural)
    return report


def _import_batch(
    importer: Importer,
    mapping: RedcapMapping,
    dictionary: dict[str, DictionaryField],
    records: pd.DataFrame,
    site_id: int,
    keys: dict[str, tuple[str, int]],
    report: RedcapReport,
    *,
    dry_run: bool,
) -> set[str]:
    """One batch of records: checked, updated and written; returns the rejected records."""
    reader = Reader(mapping, dictionary, records)
    candidates = reader.candidates()
    report.problems.extend(reader.problems)
    for candidate in candidates:
        if candidate.table == "patients":
            candidate.values["site_id"] = site_id
            if candidate.values.get("external_id") is None:
                candidate.values["external_id"] = candidate.origin.record
    key_system = system_name(mapping)
    _link(candidates, keys, importer)
    bad = {p.record for p in reader.problems}
    source = f"REDCap {mapping.project}"

    new = [c for c in candidates if c.existing_id is None and c.origin.record not in bad]
    frames, origins = _frames(new)
    if frames:
        checked = importer.import_batch(frames, sources=dict.fromkeys(frames, source), dry_run=True)
        fresh = {(c.table, c.values["id"]) for c in new}
        found = [(r, _problem_of(r, origins)) for r in checked.rejected]
        first = {p.record for r, p in found if not _follows(r, fresh)}
        for rejection, problem in found:
            # A row referring to a rejected row of the same record is not reported again.
            if problem.record in first and _follows(rejection, fresh):
                continue
            report.problems.append(problem)
            bad.add(problem.record)

    existing = [c for c in candidates if c.existing_id is not None and c.origin.record not in bad]
    bad |= _apply_updates(importer, existing, report, dry_run)

    new = [c for c in new if c.origin.record not in bad]
    frames, origins = _frames(new)
    if frames:
        rows = [
            {
                "system": key_system,
                "key": c.origin.key,
                "entity": c.table,
                "entity_id": c.values["id"],
            }
            for c in new
        ]

        def remember(connection: Connection) -> None:
            connection.execute(insert(ExternalKey), rows)

        result = importer.import_batch(
            frames, sources=dict.fromkeys(frames, source), dry_run=dry_run, on_write=remember
        )
        for rejection in result.rejected:  # not expected: the same rows passed above
            report.problems.append(_problem_of(rejection, origins))
        for table, count in result.written.items():
            report.created[table] = report.created.get(table, 0) + count
    return bad


def _natural(record: str) -> tuple[int, str]:
    return (int(record), "") if record.isdigit() else (np.iinfo(np.int32).max, record)


def read_records(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise MappingError(f"cannot read the records {path}: {error}") from error

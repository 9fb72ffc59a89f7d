"""The tables an import can fill, in the order that lets every reference resolve.

Registry tables take the API's ``XCreate`` schema as their shape; assessments take
:class:`AssessmentImport`, whose scores the server computes from the items. Every table has an
``id`` column: the record's id in the database, chosen by the file (new ids only), so that rows
of one file can refer to rows of another. Without ``id`` the importer numbers the rows itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import Table

from prolo.assessments.models import Assessment
from prolo.registry import schemas as s
from prolo.registry.entities import ENTITIES


class AssessmentImport(s.Schema):
    """An assessment as imported: the item answers; score, day and time point are computed."""

    patient_id: int
    course_id: int | None = None
    instrument: Annotated[str, Field(min_length=1, max_length=32)]
    assessed_on: dt.date
    source: Annotated[str, Field(min_length=1, max_length=16)] = "import"
    items: Annotated[str, Field(min_length=2, description="JSON list of answers in item order")]


@dataclass(frozen=True)
class TableSpec:
    name: str  # the database table, also the file name (patients.csv, patients.parquet)
    entity: str  # the registry entity name used in audit entries
    schema: type[BaseModel]
    references: dict[str, str] = field(default_factory=dict)  # field -> table
    vocabulary_fields: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> Table:
        if self.name == "assessments":
            return Assessment.__table__  # type: ignore[return-value]
        return ENTITIES[self.entity].model.__table__  # type: ignore[return-value]


def _registry(entity: str) -> TableSpec:
    e = ENTITIES[entity]
    references = {f: ENTITIES[target].model.__tablename__ for f, target in e.references.items()}
    return TableSpec(e.model.__tablename__, entity, e.create, references, dict(e.vocabulary_fields))


ORDER = [
    "site",
    "practitioner",
    "practitioner_site",
    "training_record",
    "patient",
    "condition",
    "prior_treatment",
    "treatment_course",
    "injection_session",
    "co_intervention",
    "adverse_event",
    "recurrence",
    "work_status",
    "objective_measure",
]

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in map(_registry, ORDER)}
TABLES["assessments"] = TableSpec(
    "assessments",
    "assessment",
    AssessmentImport,
    {"patient_id": "patients", "course_id": "treatment_courses"},
)
TABLE_ORDER = list(TABLES)

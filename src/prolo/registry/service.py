"""The verbs of the clinical record — create, get, list, update, retire — with rules and audit.

Services ``flush()`` and never ``commit()``: the caller (request or CLI command) owns the
transaction, so a change and its audit entry are written together or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from prolo.errors import Conflict, DomainError, FieldError, NotFound
from prolo.registry import rules
from prolo.registry.entities import Entity
from prolo.registry.models import Record, TreatmentCourse
from prolo.registry.schemas import UpdateSchema
from prolo.security import audit
from prolo.security.policy import READ, WRITE, authorize, visible
from prolo.security.principal import Principal

MAX_PAGE = 1000


@dataclass(frozen=True)
class Page:
    items: list[Record]
    total: int
    limit: int
    offset: int


def get(session: Session, entity: Entity, record_id: int, *, actor: Principal) -> Record | None:
    """The record if it exists and is at one of the actor's sites, else None."""
    authorize(actor, entity.name, READ)
    model = entity.model
    return session.scalars(
        select(model).where(model.id == record_id, visible(actor, model))
    ).first()


def get_or_raise(session: Session, entity: Entity, record_id: int, *, actor: Principal) -> Record:
    record = get(session, entity, record_id, actor=actor)
    if record is None:
        raise NotFound(entity.name.replace("_", " "), record_id)
    return record


def create(session: Session, entity: Entity, data: BaseModel, *, actor: Principal) -> Record:
    authorize(actor, entity.name, WRITE)
    values = data.model_dump(mode="python")
    warnings = rules.check(session, entity, values, actor)
    if entity.name == "treatment_course":
        values["eligibility_warnings"] = warnings
    record = entity.model(**_storable(values))
    session.add(record)
    _flush(session, entity)
    audit.write(
        session,
        actor=actor.username,
        action="create",
        entity=entity.name,
        entity_id=record.id,
        after=audit.snapshot(record),
    )
    _follow_up(session, entity, record, created=True)
    return record


def update(
    session: Session, entity: Entity, record_id: int, data: UpdateSchema, *, actor: Principal
) -> Record:
    authorize(actor, entity.name, WRITE)
    record = get_or_raise(session, entity, record_id, actor=actor)
    if record.retired_at is not None:
        raise Conflict(f"{entity.name} {record_id} is retired and cannot change")
    changes = data.model_dump(mode="python", exclude_unset=True, exclude={"reason"})
    if not changes:
        raise DomainError("Nothing to change", [FieldError("body", "names no field to change")])
    before = audit.snapshot(record)
    values = {**before_values(record), **changes}
    warnings = rules.check(session, entity, values, actor)
    if entity.name == "treatment_course":
        changes["eligibility_warnings"] = warnings
    for key, value in _storable(changes).items():
        setattr(record, key, value)
    _flush(session, entity)
    audit.write(
        session,
        actor=actor.username,
        action="update",
        entity=entity.name,
        entity_id=record.id,
        before=before,
        after=audit.snapshot(record),
        reason=data.reason,
    )
    _follow_up(session, entity, record, created=False)
    return record


def retire(
    session: Session, entity: Entity, record_id: int, *, reason: str, actor: Principal
) -> Record:
    """Clinical records are never deleted: they are retired with a reason and stay audited."""
    authorize(actor, entity.name, WRITE)
    record = get_or_raise(session, entity, record_id, actor=actor)
    if record.retired_at is not None:
        raise Conflict(f"{entity.name} {record_id} is already retired")
    before = audit.snapshot(record)
    record.retired_at = dt.datetime.now(dt.UTC)
    record.retired_reason = reason
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="retire",
        entity=entity.name,
        entity_id=record.id,
        before=before,
        after=audit.snapshot(record),
        reason=reason,
    )
    return record


def list_records(
    session: Session,
    entity: Entity,
    *,
    actor: Principal,
    filters: dict[str, str] | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    include_retired: bool = False,
) -> Page:
    """A page of records filtered by column equality and sorted by ``column`` or ``-column``."""
    authorize(actor, entity.name, READ)
    if not 1 <= limit <= MAX_PAGE:
        raise DomainError("Invalid paging", [FieldError("limit", f"must be 1–{MAX_PAGE}")])
    if offset < 0:
        raise DomainError("Invalid paging", [FieldError("offset", "must be 0 or more")])
    query: Select[Any] = select(entity.model).where(visible(actor, entity.model))
    for condition in _filter_conditions(entity, filters or {}):
        query = query.where(condition)
    if not include_retired:
        query = query.where(entity.model.retired_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(_sort_key(entity, sort), entity.model.id).limit(limit).offset(offset)
    return Page(list(session.scalars(query)), total, limit, offset)


def _filter_conditions(entity: Entity, filters: dict[str, str]) -> list[ColumnElement[bool]]:
    columns = entity.model.__table__.columns
    conditions: list[ColumnElement[bool]] = []
    errors: list[FieldError] = []
    for name, raw in filters.items():
        if name not in columns or columns[name].info.get("phi") or name == "targets":
            errors.append(FieldError(name, f"cannot filter {entity.path} by {name}"))
            continue
        column = columns[name]
        try:
            value = _parse(column.type.python_type, raw)
        except (ValueError, NotImplementedError):
            errors.append(FieldError(name, f"{raw!r} is not a valid {column.type}"))
            continue
        conditions.append(column == value)
    if errors:
        raise DomainError("Invalid filter", errors)
    return conditions


def _parse(kind: type, raw: str) -> Any:
    if kind is bool:
        if raw.lower() not in {"true", "false", "1", "0"}:
            raise ValueError(raw)
        return raw.lower() in {"true", "1"}
    if kind is dt.date:
        return dt.date.fromisoformat(raw)
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(raw)
    return kind(raw)


def _sort_key(entity: Entity, sort: str | None) -> ColumnElement[Any]:
    if not sort:
        return entity.model.id.asc()
    name = sort.lstrip("-")
    columns = entity.model.__table__.columns
    if name not in columns or name == "targets":
        raise DomainError(
            "Invalid sort", [FieldError("sort", f"{entity.path} has no column {name}")]
        )
    column = columns[name]
    return column.desc() if sort.startswith("-") else column.asc()


def _follow_up(session: Session, entity: Entity, record: Record, *, created: bool) -> None:
    """Starting a course creates its due questionnaires; its first injection fixes day 0."""
    from prolo.assessments.service import index_date
    from prolo.followup import service as followup

    if entity.name == "treatment_course":
        assert isinstance(record, TreatmentCourse)
        if created:
            followup.create_due(session, record)
        else:
            followup.rebase(session, record, index_date(session, record))
    elif entity.name == "injection_session":
        course = session.get(TreatmentCourse, getattr(record, "course_id", None))
        if course is not None:
            followup.rebase(session, course, index_date(session, course))


def before_values(record: Record) -> dict[str, Any]:
    return {c.key: getattr(record, c.key) for c in record.__mapper__.column_attrs}


def _storable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "reason"}


def _flush(session: Session, entity: Entity) -> None:
    from sqlalchemy.exc import IntegrityError

    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"The {entity.name.replace('_', ' ')} conflicts with an existing record",
            [FieldError("body", _integrity_reason(error))],
        ) from error


def _integrity_reason(error: Exception) -> str:
    text = str(getattr(error, "orig", error)).splitlines()[0]
    return f"duplicate or inconsistent values ({text})"


def search_patients(
    session: Session,
    *,
    actor: Principal,
    external_id: str = "",
    name: str = "",
    birth_date: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Active patients at the actor's sites whose external id starts with ``external_id``,
    whose given or family name contains ``name`` (any case) and who were born on
    ``birth_date``; newest first. Identifying columns may be searched here (staff only)."""
    from prolo.registry.models import Patient

    authorize(actor, "patient", READ)
    query: Select[Any] = select(Patient).where(
        visible(actor, Patient), Patient.retired_at.is_(None)
    )
    if external_id:
        query = query.where(Patient.external_id.startswith(external_id, autoescape=True))
    if name:
        needle = name.lower()
        query = query.where(
            func.lower(Patient.family_name).contains(needle, autoescape=True)
            | func.lower(Patient.given_name).contains(needle, autoescape=True)
        )
    if birth_date is not None:
        query = query.where(Patient.birth_date == birth_date)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Patient.id.desc()).limit(limit).offset(offset))
    return Page(list(rows), total, limit, offset)

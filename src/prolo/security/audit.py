"""The audit trail: who changed what, when, before and after, and why — in the same transaction."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prolo.db import Base
from prolo.registry.models import AuditEntry


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def snapshot(record: Base) -> dict[str, Any]:
    """Every column of a record as JSON-safe values."""
    return {c.key: jsonable(getattr(record, c.key)) for c in record.__mapper__.column_attrs}


def write(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
        reason=reason,
    )
    session.add(entry)
    session.flush()
    return entry


def history(
    session: Session, *, entity: str | None = None, entity_id: int | None = None, limit: int = 100
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    entity: str | None = None
    action: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive: the whole day


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int


def search(
    session: Session, filters: AuditFilters, *, limit: int = 50, offset: int = 0
) -> AuditPage:
    """A page of the audit trail, newest first, filtered in the database (who, what, when)."""
    conditions = []
    if filters.actor:
        conditions.append(AuditEntry.actor == filters.actor)
    if filters.entity:
        conditions.append(AuditEntry.entity == filters.entity)
    if filters.action:
        conditions.append(AuditEntry.action == filters.action)
    if filters.since:
        conditions.append(AuditEntry.at >= dt.datetime.combine(filters.since, dt.time.min, dt.UTC))
    if filters.until:
        after = filters.until + dt.timedelta(days=1)
        conditions.append(AuditEntry.at < dt.datetime.combine(after, dt.time.min, dt.UTC))
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    entries = session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return AuditPage(list(entries), total)


def distinct_values(session: Session, column: str) -> list[str]:
    """The actors, entities or actions the trail holds, for the filter's choices."""
    attribute = {
        "actor": AuditEntry.actor,
        "entity": AuditEntry.entity,
        "action": AuditEntry.action,
    }[column]
    return [v for v in session.scalars(select(attribute).distinct().order_by(attribute)) if v]

"""REST routes of the clinical record, built once over the entity catalogue.

No ``from __future__ import annotations`` here: FastAPI reads the schema classes from the
annotations at run time, and they vary per entity.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from prolo.registry import service, vocabulary
from prolo.registry.entities import ENTITIES, Entity
from prolo.registry.schemas import (
    AuditEntryRead,
    RetireRequest,
    VocabularyTermCreate,
    VocabularyTermRead,
)
from prolo.security import audit
from prolo.security.policy import WRITE, authorize, require_admin
from prolo.security.principal import Principal
from prolo.storable import RecordId
from prolo.web.deps import ActorDep, SessionDep

PAGING = {"limit", "offset", "sort", "include_retired"}


class PageOut(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class Paging(BaseModel):
    """The list parameters every collection takes; other query parameters are filters."""

    limit: int = Field(default=50, ge=1, le=service.MAX_PAGE)
    offset: int = Field(default=0, ge=0)
    sort: str | None = None
    include_retired: bool = False


def list_page(
    request: Request, db: Session, actor: Principal, entity: Entity, paging: Paging
) -> PageOut:
    """One page of an entity's records as the API returns it."""
    filters = {k: v for k, v in request.query_params.items() if k not in PAGING}
    page = service.list_records(db, entity, actor=actor, filters=filters, **paging.model_dump())
    items = [entity.read.model_validate(r).model_dump(mode="json") for r in page.items]
    return PageOut(items=items, total=page.total, limit=page.limit, offset=page.offset)


def entity_router(entity: Entity) -> APIRouter:
    create_schema, update_schema, read_schema = entity.create, entity.update, entity.read
    router = APIRouter(prefix=f"/{entity.path}", tags=[entity.path])
    label = entity.name.replace("_", " ")

    @router.post("", status_code=201, response_model=read_schema, summary=f"Create a {label}")
    def create(body: create_schema, db: SessionDep, actor: ActorDep) -> Any:  # type: ignore[valid-type]
        record = service.create(db, entity, body, actor=actor)
        db.commit()
        return record

    @router.get(
        "",
        response_model=PageOut,
        summary=f"List {entity.path}",
        description="Filter by any non-identifying column as `?column=value`; "
        "sort with `sort=column` or `sort=-column`.",
    )
    def list_(
        request: Request, db: SessionDep, actor: ActorDep, paging: Annotated[Paging, Query()]
    ) -> Any:
        return list_page(request, db, actor, entity, paging)

    @router.get("/{record_id}", response_model=read_schema, summary=f"Read a {label}")
    def read(record_id: RecordId, db: SessionDep, actor: ActorDep) -> Any:
        return service.get_or_raise(db, entity, record_id, actor=actor)

    @router.patch("/{record_id}", response_model=read_schema, summary=f"Update a {label}")
    def update(record_id: RecordId, body: update_schema, db: SessionDep, actor: ActorDep) -> Any:  # type: ignore[valid-type]
        record = service.update(db, entity, record_id, body, actor=actor)
        db.commit()
        return record

    @router.post("/{record_id}/retire", response_model=read_schema, summary=f"Retire a {label}")
    def retire(record_id: RecordId, body: RetireRequest, db: SessionDep, actor: ActorDep) -> Any:
        record = service.retire(db, entity, record_id, reason=body.reason, actor=actor)
        db.commit()
        return record

    @router.get(
        "/{record_id}/history",
        response_model=list[AuditEntryRead],
        summary=f"Audit history of a {label}",
    )
    def history(record_id: RecordId, db: SessionDep, actor: ActorDep) -> Any:
        service.get_or_raise(db, entity, record_id, actor=actor)
        return audit.history(db, entity=entity.name, entity_id=record_id)

    return router


vocabulary_router = APIRouter(prefix="/vocabularies", tags=["vocabularies"])


@vocabulary_router.get("", summary="Names of the vocabularies")
def vocabulary_names(db: SessionDep, actor: ActorDep) -> list[str]:
    return sorted(vocabulary.names(db))


@vocabulary_router.get("/{name}", response_model=list[VocabularyTermRead])
def vocabulary_terms(name: str, db: SessionDep, actor: ActorDep) -> Any:
    return vocabulary.get_or_raise(db, name)


@vocabulary_router.post("", status_code=201, response_model=VocabularyTermRead)
def add_vocabulary_term(body: VocabularyTermCreate, db: SessionDep, actor: ActorDep) -> Any:
    authorize(actor, "vocabulary_term", WRITE)
    term = vocabulary.add_term(db, actor=actor.username, **body.model_dump())
    db.commit()
    return term


audit_router = APIRouter(prefix="/audit", tags=["audit"])


@audit_router.get("", response_model=list[AuditEntryRead], summary="The audit trail, newest first")
def audit_trail(
    db: SessionDep,
    actor: ActorDep,
    entity: str | None = None,
    entity_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    require_admin(actor)
    return audit.history(db, entity=entity, entity_id=entity_id, limit=limit)


def routers() -> list[APIRouter]:
    return [entity_router(e) for e in ENTITIES.values()] + [vocabulary_router, audit_router]

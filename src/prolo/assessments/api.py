"""REST routes of assessments: entered in clinic (scored by the server), listed, corrected,
retired."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from prolo.assessments import service
from prolo.assessments.models import Assessment
from prolo.assessments.schemas import AssessmentCreate, AssessmentRead, AssessmentUpdate
from prolo.followup.service import schedule
from prolo.registry import service as records
from prolo.registry.api import PageOut, Paging, list_page
from prolo.registry.entities import Entity
from prolo.registry.schemas import AuditEntryRead, RetireRequest
from prolo.security import audit
from prolo.web.deps import ActorDep, SessionDep

ASSESSMENTS = Entity(
    "assessment", "assessments", Assessment, AssessmentCreate, AssessmentUpdate, AssessmentRead
)
router = APIRouter(prefix="/assessments", tags=["assessments"])


@router.post("", status_code=201, response_model=AssessmentRead, summary="Record an assessment")
def create(body: AssessmentCreate, db: SessionDep, actor: ActorDep) -> Any:
    record = service.create(db, body, actor=actor, source=body.source, schedule=schedule(db))
    db.commit()
    return record


@router.get("", response_model=PageOut, summary="List assessments")
def list_(
    request: Request, db: SessionDep, actor: ActorDep, paging: Annotated[Paging, Query()]
) -> Any:
    return list_page(request, db, actor, ASSESSMENTS, paging)


@router.get("/{record_id}", response_model=AssessmentRead)
def read(record_id: int, db: SessionDep, actor: ActorDep) -> Any:
    return service.get_or_raise(db, record_id, actor=actor)


@router.patch("/{record_id}", response_model=AssessmentRead, summary="Correct an assessment")
def update(record_id: int, body: AssessmentUpdate, db: SessionDep, actor: ActorDep) -> Any:
    record = service.update(db, record_id, body, actor=actor, schedule=schedule(db))
    db.commit()
    return record


@router.post("/{record_id}/retire", response_model=AssessmentRead)
def retire(record_id: int, body: RetireRequest, db: SessionDep, actor: ActorDep) -> Any:
    record = records.retire(db, ASSESSMENTS, record_id, reason=body.reason, actor=actor)
    db.commit()
    return record


@router.get("/{record_id}/history", response_model=list[AuditEntryRead])
def history(record_id: int, db: SessionDep, actor: ActorDep) -> Any:
    service.get_or_raise(db, record_id, actor=actor)
    return audit.history(db, entity="assessment", entity_id=record_id)

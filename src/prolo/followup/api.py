"""REST routes of follow-up: what is due or overdue, completeness, sending, the schedule."""

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from prolo.followup import service
from prolo.followup.completeness import completeness
from prolo.followup.schedule import Schedule
from prolo.followup.sending import send_due
from prolo.security.policy import WRITE, authorize
from prolo.settings import get_settings
from prolo.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/followup", tags=["follow-up"])
State = Literal["upcoming", "open", "overdue", "missed", "answered"]


@router.get("/due", summary="Due questionnaires at your sites, earliest first")
def due(
    db: SessionDep,
    actor: ActorDep,
    site_id: int | None = None,
    state: Annotated[list[State] | None, Query()] = None,
    as_of: dt.date | None = None,
) -> list[dict[str, Any]]:
    rows = service.due_list(
        db,
        actor=actor,
        today=as_of or dt.date.today(),
        site_id=site_id,
        states=set(state) if state else None,
    )
    return [row.as_dict() for row in rows]


@router.get("/completeness", summary="Answered ÷ due per site, practitioner or time point")
def follow_up_completeness(
    db: SessionDep,
    actor: ActorDep,
    by: Literal["site", "practitioner", "time_point"] = "time_point",
    as_of: dt.date | None = None,
) -> list[dict[str, Any]]:
    return [
        c.as_dict() for c in completeness(db, actor=actor, today=as_of or dt.date.today(), by=by)
    ]


class SendResult(BaseModel):
    invitations: int
    reminders: int
    skipped_no_email: int


@router.post("/send", response_model=SendResult, summary="Send today's invitations and reminders")
def send(db: SessionDep, actor: ActorDep) -> Any:
    authorize(actor, "assessment", WRITE)
    report = send_due(db, today=dt.date.today(), settings=get_settings())
    db.commit()
    return SendResult(**report.__dict__)


class TimePointIn(BaseModel):
    name: str
    target: int
    start: int
    end: int
    latest: bool = False


class ScheduleIn(BaseModel):
    time_points: list[TimePointIn]
    instruments: list[str]


@router.get("/schedule", response_model=ScheduleIn)
def get_schedule(db: SessionDep, actor: ActorDep) -> Any:
    del actor
    return service.schedule(db).as_dict()


@router.put("/schedule", response_model=ScheduleIn, summary="Configure the registry's schedule")
def put_schedule(body: ScheduleIn, db: SessionDep, actor: ActorDep) -> Any:
    from prolo.errors import invalid

    try:
        new = Schedule.from_dict(body.model_dump())
    except ValueError as error:
        raise invalid("time_points", str(error)) from error
    service.set_schedule(db, new, actor=actor)
    db.commit()
    return new.as_dict()


class TraceIn(BaseModel):
    time_point: str = Field(description="Follow-up time point, e.g. 6m.")
    fraction: float = Field(gt=0, le=1, description="Share of the missed questionnaires to trace.")
    seed: int = Field(description="Seed of the random draw: the same seed, the same sample.")


class TraceOut(BaseModel):
    draw_id: int | None
    time_point: str
    fraction: float
    seed: int
    eligible: int
    sampled: int
    probability: float
    drawn_on: dt.date


@router.post(
    "/trace",
    status_code=201,
    response_model=TraceOut,
    summary="Draw the tracing sample of a time point (coordinator or administrator)",
)
def draw_trace(body: TraceIn, db: SessionDep, actor: ActorDep) -> Any:
    from prolo.followup import tracing

    result = tracing.draw(
        db,
        actor=actor,
        time_point=body.time_point,
        fraction=body.fraction,
        seed=body.seed,
        today=dt.date.today(),
    )
    db.commit()
    return result.as_dict()


@router.get("/trace", summary="Tracing worklist: sampled courses to trace, and those traced")
def trace_tasks(
    db: SessionDep,
    actor: ActorDep,
    site_id: int | None = None,
    state: Annotated[list[Literal["trace", "traced"]] | None, Query()] = None,
) -> list[dict[str, Any]]:
    from prolo.followup import tracing

    tasks = tracing.trace_tasks(
        db, actor=actor, site_id=site_id, states=set(state) if state else None
    )
    return [t.as_dict() for t in tasks]

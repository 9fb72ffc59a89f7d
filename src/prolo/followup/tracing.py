"""Tracing a random sample of the courses whose questionnaire was missed (double sampling).

``draw`` takes, for one time point, the courses whose questionnaire window closed unanswered
and that no earlier draw of that time point considered, and samples a fraction of them at
random (a simple random sample of round(fraction × eligible) courses, reproducible from the
seed). The draw is stored once with its date, seed and probability, every eligible course as a
member (sampled or not), and audited. Sampled courses become "trace" tasks on the coordinator's
worklist until a questionnaire with source ``tracing`` is entered, then "traced". The estimator
is ``outcomes.double_sampling``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from prolo.assessments.models import Assessment
from prolo.errors import DomainError, FieldError
from prolo.followup.models import DueQuestionnaire, TracingDraw, TracingMember
from prolo.registry import models as m
from prolo.security import audit
from prolo.security.policy import READ, WRITE, Forbidden, authorize, visible
from prolo.security.principal import Principal

DRAWERS = {"admin", "coordinator"}
TASK_STATES = ("trace", "traced")


@dataclass(frozen=True)
class DrawResult:
    draw_id: int | None
    time_point: str
    fraction: float
    seed: int
    eligible: int
    sampled: int
    probability: float
    drawn_on: dt.date

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "drawn_on": self.drawn_on.isoformat()}


def check(time_point: str, fraction: float, known: Iterable[str]) -> None:
    errors = []
    if time_point not in set(known):
        errors.append(
            FieldError(
                "time_point", f"{time_point!r} is not a follow-up time point of the schedule"
            )
        )
    if not 0 < fraction <= 1:
        errors.append(FieldError("fraction", "must be above 0 and at most 1"))
    if errors:
        raise DomainError("The tracing draw cannot be made", errors)


def sample(course_ids: list[int], fraction: float, seed: int) -> np.ndarray[Any, Any]:
    """Which of ``course_ids`` (in ascending order) are drawn: the same seed, the same draw."""
    ordered = np.sort(np.asarray(course_ids, dtype=np.int64))
    size = round(fraction * len(ordered))
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(ordered), dtype=bool)
    if size:
        chosen[rng.choice(len(ordered), size, replace=False)] = True
    return chosen


def draw(
    session: Session,
    *,
    actor: Principal,
    time_point: str,
    fraction: float,
    seed: int,
    today: dt.date,
) -> DrawResult:
    """Draw the tracing sample of ``time_point`` among the courses not yet considered."""
    from prolo.followup.service import schedule

    authorize(actor, "assessment", WRITE)  # the token's scope
    if actor.role not in DRAWERS:
        raise Forbidden("only a coordinator or an administrator draws the tracing sample")
    plan = schedule(session)
    check(time_point, fraction, [p.name for p in plan.time_points[1:]])
    already = select(TracingMember.course_id).where(TracingMember.time_point == time_point)
    eligible = sorted(
        session.scalars(
            select(DueQuestionnaire.course_id)
            .join(m.TreatmentCourse, m.TreatmentCourse.id == DueQuestionnaire.course_id)
            .where(
                DueQuestionnaire.time_point == time_point,
                DueQuestionnaire.status.in_(("due", "missed")),
                DueQuestionnaire.window_closes < today,
                m.TreatmentCourse.retired_at.is_(None),
                DueQuestionnaire.course_id.not_in(already),
            )
        )
    )
    chosen = sample(eligible, fraction, seed)
    result = record_draw(
        session,
        actor=actor.username,
        time_point=time_point,
        fraction=fraction,
        seed=seed,
        drawn_on=today,
        members=[(c, bool(s)) for c, s in zip(eligible, chosen, strict=True)],
    )
    return result


def record_draw(
    session: Session,
    *,
    actor: str,
    time_point: str,
    fraction: float,
    seed: int,
    drawn_on: dt.date,
    members: list[tuple[int, bool]],
) -> DrawResult:
    """Store one draw and its members (bulk insert) and audit it; also used by ``prolo synth``."""
    sampled = sum(1 for _, s in members if s)
    probability = sampled / len(members) if members else 0.0
    row = TracingDraw(
        time_point=time_point,
        drawn_on=drawn_on,
        fraction=fraction,
        probability=probability,
        seed=seed,
        eligible=len(members),
        sampled=sampled,
        drawn_by=actor,
    )
    session.add(row)
    session.flush()
    if members:
        session.execute(
            insert(TracingMember),
            [
                {"draw_id": row.id, "course_id": c, "time_point": time_point, "sampled": s}
                for c, s in members
            ],
        )
    result = DrawResult(
        row.id, time_point, fraction, seed, len(members), sampled, probability, drawn_on
    )
    audit.write(
        session,
        actor=actor,
        action="create",
        entity="tracing_draw",
        entity_id=row.id,
        after=result.as_dict(),
    )
    return result


@dataclass(frozen=True)
class TraceTask:
    draw_id: int
    course_id: int
    patient_id: int
    external_id: str
    site_id: int
    practitioner_id: int
    time_point: str
    drawn_on: dt.date
    state: str  # trace | traced

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "drawn_on": self.drawn_on.isoformat()}


def trace_tasks(
    session: Session,
    *,
    actor: Principal,
    site_id: int | None = None,
    states: set[str] | None = None,
) -> list[TraceTask]:
    """The coordinator's tracing worklist: sampled courses at the actor's sites, "trace" until a
    questionnaire with source ``tracing`` was entered for the course after the draw, then
    "traced". Oldest draw first."""
    authorize(actor, "assessment", READ)
    traced_after = (
        select(func.count(Assessment.id))
        .where(
            Assessment.course_id == TracingMember.course_id,
            Assessment.source == "tracing",
            Assessment.retired_at.is_(None),
            Assessment.assessed_on >= TracingDraw.drawn_on,
        )
        .correlate(TracingMember, TracingDraw)
        .scalar_subquery()
    )
    query = (
        select(TracingMember, TracingDraw, m.TreatmentCourse, m.Patient, traced_after)
        .join(TracingDraw, TracingDraw.id == TracingMember.draw_id)
        .join(m.TreatmentCourse, m.TreatmentCourse.id == TracingMember.course_id)
        .join(m.Patient, m.Patient.id == m.TreatmentCourse.patient_id)
        .where(
            TracingMember.sampled.is_(True),
            visible(actor, m.Patient),
            m.TreatmentCourse.retired_at.is_(None),
        )
        .order_by(TracingDraw.drawn_on, TracingMember.course_id)
    )
    if site_id is not None:
        query = query.where(m.Patient.site_id == site_id)
    tasks = []
    for member, drawn, course, patient, answers in session.execute(query):
        state = "traced" if answers else "trace"
        if states is None or state in states:
            tasks.append(
                TraceTask(
                    drawn.id,
                    course.id,
                    patient.id,
                    patient.external_id,
                    patient.site_id,
                    course.practitioner_id,
                    member.time_point,
                    drawn.drawn_on,
                    state,
                )
            )
    return tasks

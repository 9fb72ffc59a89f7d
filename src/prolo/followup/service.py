"""Follow-up: what each course owes when, the links patients answer, reminders, completeness."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from prolo.followup.models import DueQuestionnaire, Invitation, RegistrySetting
from prolo.followup.schedule import DEFAULT, Schedule
from prolo.registry import models as m
from prolo.security import audit
from prolo.security.policy import READ, authorize, require_admin, visible
from prolo.security.principal import Principal

SCHEDULE_KEY = "followup_schedule"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def digest(token: str) -> str:
    # Link tokens are 256-bit random values: a fast hash suffices, and only the hash is stored.
    return hashlib.sha256(token.encode()).hexdigest()


def schedule(session: Session) -> Schedule:
    """The registry's schedule (DESIGN §5 default unless an administrator configured one)."""
    setting = session.get(RegistrySetting, SCHEDULE_KEY)
    return Schedule.from_dict(setting.value) if setting else DEFAULT


def set_schedule(session: Session, new: Schedule, *, actor: Principal) -> Schedule:
    require_admin(actor)
    setting = session.get(RegistrySetting, SCHEDULE_KEY)
    before = setting.value if setting else DEFAULT.as_dict()
    if setting is None:
        session.add(RegistrySetting(key=SCHEDULE_KEY, value=new.as_dict()))
    else:
        setting.value, setting.updated_at = new.as_dict(), now()
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="update",
        entity="followup_schedule",
        entity_id=None,
        before=before,
        after=new.as_dict(),
    )
    return new


def instruments_for(plan: Schedule, time_point: str, region: str) -> list[str]:
    """The questionnaires of one time point: disability by region (NDI for the neck, else ODI);
    no impression of change at baseline."""
    chosen = []
    for code in plan.instruments:
        if code == "DISABILITY":
            chosen.append("NDI" if region == "cervical" else "ODI")
        elif code == "PGIC" and time_point == plan.time_points[0].name:
            continue
        else:
            chosen.append(code)
    return chosen


def create_due(session: Session, course: m.TreatmentCourse) -> list[DueQuestionnaire]:
    """Starting a course creates its due questionnaires, one per time point."""
    plan = schedule(session)
    condition = session.get(m.Condition, course.condition_id)
    region = condition.region if condition else "lumbar"
    created = []
    for point, due_on, opens, closes in plan.due_dates(course.start_date):
        due = DueQuestionnaire(
            course_id=course.id,
            time_point=point.name,
            due_on=due_on,
            window_opens=opens,
            window_closes=closes,
            instruments=instruments_for(plan, point.name, region),
            status="due",
        )
        session.add(due)
        created.append(due)
    session.flush()
    return created


def rebase(session: Session, course: m.TreatmentCourse, index: dt.date) -> None:
    """Move the unanswered time points when the first injection fixes the index date."""
    plan = schedule(session)
    dates = {p.name: (due, opens, closes) for p, due, opens, closes in plan.due_dates(index)}
    for due in session.scalars(
        select(DueQuestionnaire).where(
            DueQuestionnaire.course_id == course.id, DueQuestionnaire.status == "due"
        )
    ):
        if due.time_point in dates:
            due.due_on, due.window_opens, due.window_closes = dates[due.time_point]
    session.flush()


@dataclass(frozen=True)
class DueRow:
    due: DueQuestionnaire
    patient: m.Patient
    course: m.TreatmentCourse
    state: str  # upcoming | open | overdue | missed | answered

    def as_dict(self) -> dict[str, Any]:
        return {
            "due_id": self.due.id,
            "course_id": self.course.id,
            "patient_id": self.patient.id,
            "external_id": self.patient.external_id,
            "site_id": self.patient.site_id,
            "practitioner_id": self.course.practitioner_id,
            "time_point": self.due.time_point,
            "due_on": self.due.due_on.isoformat(),
            "window_opens": self.due.window_opens.isoformat(),
            "window_closes": self.due.window_closes.isoformat(),
            "instruments": self.due.instruments,
            "state": self.state,
        }


def state_of(due: DueQuestionnaire, today: dt.date) -> str:
    """upcoming (window not open), open (before the due date), overdue (past the due date,
    window still open), missed (window closed unanswered), answered."""
    if due.status == "answered":
        return "answered"
    if today < due.window_opens:
        return "upcoming"
    if today > due.window_closes:
        return "missed"
    return "overdue" if today > due.due_on else "open"


def due_list(
    session: Session,
    *,
    actor: Principal,
    today: dt.date,
    site_id: int | None = None,
    states: set[str] | None = None,
) -> list[DueRow]:
    """Due questionnaires at the actor's sites, earliest due first."""
    authorize(actor, "assessment", READ)
    query = (
        select(DueQuestionnaire, m.TreatmentCourse, m.Patient)
        .join(m.TreatmentCourse, m.TreatmentCourse.id == DueQuestionnaire.course_id)
        .join(m.Patient, m.Patient.id == m.TreatmentCourse.patient_id)
        .where(visible(actor, m.Patient), m.TreatmentCourse.retired_at.is_(None))
        .order_by(DueQuestionnaire.due_on, DueQuestionnaire.id)
    )
    if site_id is not None:
        query = query.where(m.Patient.site_id == site_id)
    rows = []
    for due, course, patient in session.execute(query):
        state = state_of(due, today)
        if states is None or state in states:
            rows.append(DueRow(due, patient, course, state))
    return rows


def issue_link(session: Session, due: DueQuestionnaire, *, kind: str) -> tuple[Invitation, str]:
    """A new single-use link; earlier links of the same questionnaire stop working."""
    draft: dict[str, Any] = {}
    for earlier in session.scalars(
        select(Invitation).where(
            Invitation.due_id == due.id,
            Invitation.superseded_at.is_(None),
            Invitation.used_at.is_(None),
        )
    ):
        earlier.superseded_at = now()
        draft = earlier.draft or draft
    token = secrets.token_urlsafe(32)
    closes = dt.datetime.combine(due.window_closes, dt.time.max, tzinfo=dt.UTC)
    invitation = Invitation(
        due_id=due.id,
        token_hash=digest(token),
        kind=kind,
        sent_at=now(),
        expires_at=closes,
        draft=draft,
    )
    session.add(invitation)
    session.flush()
    return invitation, token


@dataclass(frozen=True)
class WorklistFilters:
    site_id: int | None = None
    practitioner_id: int | None = None
    time_point: str | None = None
    states: frozenset[str] | None = None


def _state_condition(state: str, today: dt.date) -> ColumnElement[bool]:
    """The SQL twin of :func:`state_of`, so that a worklist pages in the database."""
    due = DueQuestionnaire
    # ``status || ''`` keeps the planner off the status index: nearly every row is "due" or
    # "answered", so it is the user's sites (patients → courses → due) that narrow the search.
    status = due.status.concat("")
    unanswered = status != "answered"
    return {
        "answered": status == "answered",
        "upcoming": and_(unanswered, due.window_opens > today),
        "missed": and_(unanswered, due.window_closes < today),
        "overdue": and_(unanswered, due.due_on < today, due.window_closes >= today),
        "open": and_(unanswered, due.window_opens <= today, due.due_on >= today),
    }[state]


@dataclass(frozen=True)
class Worklist:
    rows: list[DueRow]
    total: int


def worklist(
    session: Session,
    *,
    actor: Principal,
    today: dt.date,
    filters: WorklistFilters,
    limit: int = 50,
    offset: int = 0,
) -> Worklist:
    """One page of due questionnaires at the actor's sites, earliest due first; the filters
    and the paging run in the database so that a large registry answers quickly."""
    authorize(actor, "assessment", READ)
    conditions: list[ColumnElement[bool]] = [
        visible(actor, m.Patient),
        m.TreatmentCourse.retired_at.is_(None),
    ]
    if filters.site_id is not None:
        conditions.append(m.Patient.site_id == filters.site_id)
    if filters.practitioner_id is not None:
        conditions.append(m.TreatmentCourse.practitioner_id == filters.practitioner_id)
    if filters.time_point:
        conditions.append(DueQuestionnaire.time_point == filters.time_point)
    if filters.states:
        conditions.append(or_(*(_state_condition(s, today) for s in sorted(filters.states))))
    joined = (
        select(DueQuestionnaire, m.TreatmentCourse, m.Patient)
        .join(m.TreatmentCourse, m.TreatmentCourse.id == DueQuestionnaire.course_id)
        .join(m.Patient, m.Patient.id == m.TreatmentCourse.patient_id)
        .where(*conditions)
    )
    total = session.scalar(select(func.count()).select_from(joined.subquery())) or 0
    page = joined.order_by(DueQuestionnaire.due_on, DueQuestionnaire.id).limit(limit)
    rows = [
        DueRow(due, patient, course, state_of(due, today))
        for due, course, patient in session.execute(page.offset(offset))
    ]
    return Worklist(rows, total)


def due_row(session: Session, due_id: int, *, actor: Principal, today: dt.date) -> DueRow:
    """One due questionnaire the actor may see (another site's is reported as not found)."""
    from prolo.errors import NotFound

    authorize(actor, "assessment", READ)
    found = session.execute(
        select(DueQuestionnaire, m.TreatmentCourse, m.Patient)
        .join(m.TreatmentCourse, m.TreatmentCourse.id == DueQuestionnaire.course_id)
        .join(m.Patient, m.Patient.id == m.TreatmentCourse.patient_id)
        .where(DueQuestionnaire.id == due_id, visible(actor, m.Patient))
    ).first()
    if found is None:
        raise NotFound("due_questionnaire", due_id)
    due, course, patient = found
    return DueRow(due, patient, course, state_of(due, today))

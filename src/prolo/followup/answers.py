"""A patient answers through a link: no account, single use, expiring, partial answers kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.assessments import service as assessments
from prolo.assessments.schemas import AssessmentCreate
from prolo.errors import DomainError, FieldError
from prolo.followup.models import DueQuestionnaire, Invitation
from prolo.followup.service import digest, now, schedule
from prolo.instruments.definitions import get
from prolo.instruments.scoring import AnswerError, normalise
from prolo.registry import models as m
from prolo.security import audit
from prolo.security.principal import Principal, system


class LinkProblem(Exception):
    """Why a link cannot be used, in words a patient understands."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind, self.message = kind, message
        super().__init__(message)


@dataclass(frozen=True)
class OpenLink:
    invitation: Invitation
    due: DueQuestionnaire
    course: m.TreatmentCourse


def open_link(session: Session, token: str) -> OpenLink:
    invitation = session.scalars(
        select(Invitation).where(Invitation.token_hash == digest(token))
    ).first()
    if invitation is None:
        raise LinkProblem(
            "unknown", "This link is not valid. Please check that you copied all of it."
        )
    due = session.get(DueQuestionnaire, invitation.due_id)
    assert due is not None
    if invitation.used_at is not None or due.status == "answered":
        raise LinkProblem("used", "This questionnaire has already been answered. Thank you!")
    if invitation.superseded_at is not None:
        raise LinkProblem(
            "replaced",
            "A newer link was sent to you for this questionnaire. "
            "Please use the link in the most recent e-mail.",
        )
    expires = invitation.expires_at
    if (expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)) < now():
        raise LinkProblem(
            "expired",
            "This link has expired: the time for this questionnaire "
            "has passed. Your clinic may contact you.",
        )
    course = session.get(m.TreatmentCourse, due.course_id)
    assert course is not None
    return OpenLink(invitation, due, course)


def save_draft(session: Session, link: OpenLink, answers: dict[str, list[Any]]) -> None:
    """Keep partial answers without using up the link."""
    link.invitation.draft = {code: list(values) for code, values in answers.items()}
    session.flush()


def _validated(link: OpenLink, answers: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return _validated_for(link.due, answers)


def _validated_for(due: DueQuestionnaire, answers: dict[str, list[Any]]) -> dict[str, list[Any]]:
    errors = []
    for code in due.instruments:
        given = answers.get(code) or [None] * len(get(code).items)
        try:
            normalise(get(code), given)
        except AnswerError as error:
            errors.append(FieldError(f"{code}.{error.position}", str(error)))
    if errors:
        raise DomainError("Some answers are not valid", errors)
    return {code: answers.get(code) or [None] * len(get(code).items) for code in due.instruments}


def _store(
    session: Session,
    course: m.TreatmentCourse,
    complete: dict[str, list[Any]],
    *,
    assessed_on: dt.date,
    actor: Principal,
    source: str,
) -> None:
    """Each questionnaire of the time point as a scored assessment, through the API's service."""
    plan = schedule(session)
    for code, values in complete.items():
        assessments.create(
            session,
            AssessmentCreate(
                patient_id=course.patient_id,
                course_id=course.id,
                instrument=code,
                assessed_on=assessed_on,
                items=values,
            ),
            actor=actor,
            source=source,
            schedule=plan,
        )


def submit(session: Session, link: OpenLink, answers: dict[str, list[Any]], today: dt.date) -> int:
    """Store every questionnaire of the time point as scored assessments; the link is used up."""
    complete = _validated(link, answers)
    actor = system("patient link")
    _store(session, link.course, complete, assessed_on=today, actor=actor, source="patient_link")
    link.invitation.used_at = now()
    link.invitation.draft = {}
    link.due.status, link.due.answered_at = "answered", now()
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="answered",
        entity="due_questionnaire",
        entity_id=link.due.id,
        after={"instruments": list(complete)},
    )
    return len(complete)


def record_by_phone(
    session: Session,
    due_id: int,
    answers: dict[str, list[Any]],
    *,
    actor: Principal,
    assessed_on: dt.date,
) -> int:
    """A coordinator enters a questionnaire the patient answered on the telephone: the same
    checks as a link, the assessments stored with source "phone" under the coordinator's name,
    and any link still out stops working."""
    from prolo.followup.service import due_row

    row = due_row(session, due_id, actor=actor, today=assessed_on)
    if row.due.status == "answered":
        raise DomainError(
            "Nothing was recorded", [FieldError("due_id", "it is already answered")], 409
        )
    if not row.due.window_opens <= assessed_on <= row.due.window_closes:
        window = f"{row.due.window_opens.isoformat()} to {row.due.window_closes.isoformat()}"
        raise DomainError(
            "Nothing was recorded",
            [FieldError("assessed_on", f"is outside this time point's window ({window})")],
        )
    complete = _validated_for(row.due, answers)
    _store(session, row.course, complete, assessed_on=assessed_on, actor=actor, source="phone")
    for invitation in session.scalars(
        select(Invitation).where(
            Invitation.due_id == row.due.id,
            Invitation.used_at.is_(None),
            Invitation.superseded_at.is_(None),
        )
    ):
        invitation.superseded_at = now()
    row.due.status, row.due.answered_at = "answered", now()
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="answered_by_phone",
        entity="due_questionnaire",
        entity_id=row.due.id,
        after={"instruments": list(complete), "assessed_on": assessed_on.isoformat()},
    )
    return len(complete)

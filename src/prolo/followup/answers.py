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
from prolo.security.principal import system


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
    errors = []
    for code in link.due.instruments:
        given = answers.get(code) or [None] * len(get(code).items)
        try:
            normalise(get(code), given)
        except AnswerError as error:
            errors.append(FieldError(f"{code}.{error.position}", str(error)))
    if errors:
        raise DomainError("Some answers are not valid", errors)
    return {
        code: answers.get(code) or [None] * len(get(code).items) for code in link.due.instruments
    }


def submit(session: Session, link: OpenLink, answers: dict[str, list[Any]], today: dt.date) -> int:
    """Store every questionnaire of the time point as scored assessments; the link is used up."""
    complete = _validated(link, answers)
    actor = system("patient link")
    plan = schedule(session)
    for code, values in complete.items():
        assessments.create(
            session,
            AssessmentCreate(
                patient_id=link.course.patient_id,
                course_id=link.course.id,
                instrument=code,
                assessed_on=today,
                items=values,
            ),
            actor=actor,
            source="patient_link",
            schedule=plan,
        )
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

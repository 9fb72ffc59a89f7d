"""Invitations and reminders by e-mail: a new single-use link each time, never once answered."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from prolo.followup import mailer
from prolo.followup.models import Invitation
from prolo.followup.service import DueRow, due_list, issue_link
from prolo.security import audit
from prolo.security.principal import Principal, system
from prolo.settings import Settings

TIME_POINT_WORDS = {
    "baseline": "before treatment",
    "6w": "6 weeks",
    "3m": "3 months",
    "6m": "6 months",
    "12m": "12 months",
    "24m": "24 months",
}


@dataclass(frozen=True)
class SendReport:
    invitations: int
    reminders: int
    skipped_no_email: int

    def __str__(self) -> str:
        return (
            f"{self.invitations} invitations and {self.reminders} reminders sent; "
            f"{self.skipped_no_email} due questionnaires have no e-mail address or consent"
        )


def next_letter(
    row: DueRow, invitations: list[Invitation], today: dt.date, reminder_days: list[int]
) -> str | None:
    """'invitation', 'reminder' or None for a due questionnaire whose window is open."""
    if row.due.status != "due" or row.state not in ("open", "overdue"):
        return None
    if not invitations:
        return "invitation"
    first = invitations[0].sent_at.date()
    reminders = sum(i.kind == "reminder" for i in invitations)
    if reminders < len(reminder_days) and today >= first + dt.timedelta(
        days=reminder_days[reminders]
    ):
        return "reminder"
    return None


def letter(row: DueRow, token: str, kind: str, settings: Settings) -> mailer.Letter:
    when = TIME_POINT_WORDS.get(row.due.time_point, row.due.time_point)
    link = f"{settings.public_url.rstrip('/')}/q/{token}"
    opening = "A reminder: your" if kind == "reminder" else "Your"
    body = (
        f"Hello,\n\n{opening} questionnaire about your back or neck ({when}) is ready:\n\n"
        f"{link}\n\nIt takes about five minutes. The link works once and until "
        f"{row.due.window_closes.isoformat()}. Your answers show how treatment worked; they do "
        "not change your care, and this registry does not recommend or prescribe treatment.\n"
    )
    subject = "Reminder: your questionnaire" if kind == "reminder" else "Your questionnaire"
    assert row.patient.email is not None
    return mailer.Letter(to=row.patient.email, subject=subject, body=body)


def send_due(session: Session, *, today: dt.date, settings: Settings) -> SendReport:
    """Send what is due today. Each letter is recorded only once the SMTP server accepted it."""
    sent = {"invitation": 0, "reminder": 0}
    skipped = 0
    actor = system("prolo followup send")
    for row in due_list(session, actor=actor, today=today, states={"open", "overdue"}):
        if not row.patient.email or row.patient.consent_status != "given":
            skipped += 1
            continue
        invitations = list(
            session.scalars(
                select(Invitation)
                .where(Invitation.due_id == row.due.id)
                .order_by(Invitation.sent_at)
            )
        )
        kind = next_letter(row, invitations, today, settings.reminder_days)
        if kind is None:
            continue
        with session.begin_nested():  # undone if the SMTP server refuses the letter
            invitation, token = issue_link(session, row.due, kind=kind)
            mailer.send([letter(row, token, kind, settings)], settings)
            audit.write(
                session,
                actor=actor.username,
                action=f"{kind}_sent",
                entity="due_questionnaire",
                entity_id=row.due.id,
                after={"invitation_id": invitation.id, "time_point": row.due.time_point},
            )
        sent[kind] += 1
    return SendReport(sent["invitation"], sent["reminder"], skipped)


def send_now(
    session: Session, due_id: int, *, actor: Principal, today: dt.date, settings: Settings
) -> str:
    """A coordinator sends one invitation (or, if one was sent, a reminder) today, without
    waiting for the reminder days; returns which was sent. Refused, naming why, when the
    questionnaire is answered, its window is not open, or the patient cannot be e-mailed."""
    from prolo.errors import DomainError, FieldError
    from prolo.followup.service import due_row
    from prolo.security.policy import WRITE, authorize

    authorize(actor, "assessment", WRITE)
    row = due_row(session, due_id, actor=actor, today=today)
    reason = None
    if row.state == "answered":
        reason = "it is already answered"
    elif row.state == "upcoming":
        reason = f"its window opens on {row.due.window_opens.isoformat()}"
    elif row.state == "missed":
        reason = f"its window closed on {row.due.window_closes.isoformat()}"
    elif not row.patient.email:
        reason = "the patient has no e-mail address; record the answers by phone instead"
    elif row.patient.consent_status != "given":
        reason = "the patient has not given consent to be contacted"
    if reason is not None:
        raise DomainError("Nothing was sent", [FieldError("due_id", reason)], 409)
    earlier = session.scalar(
        select(func.count()).select_from(Invitation).where(Invitation.due_id == row.due.id)
    )
    kind = "reminder" if earlier else "invitation"
    with session.begin_nested():  # undone if the SMTP server refuses the letter
        invitation, token = issue_link(session, row.due, kind=kind)
        mailer.send([letter(row, token, kind, settings)], settings)
        audit.write(
            session,
            actor=actor.username,
            action=f"{kind}_sent",
            entity="due_questionnaire",
            entity_id=row.due.id,
            after={
                "invitation_id": invitation.id,
                "time_point": row.due.time_point,
                "by": "hand",
            },
        )
    return kind

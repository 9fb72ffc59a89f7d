"""The whole follow-up flow: course → due questionnaires → e-mail over a real SMTP server on
loopback → the patient answers over HTTP → scores stored → completeness updated; plus reminders,
replaced, reused and expired links."""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.assessments.models import Assessment
from prolo.followup.completeness import completeness
from prolo.followup.models import DueQuestionnaire, Invitation
from prolo.followup.sending import send_due
from prolo.registry.models import Patient
from prolo.security.principal import system
from prolo.settings import Settings
from tests import factories as f

TODAY = dt.date.today()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, Settings]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            handler,
            Settings(smtp_host="127.0.0.1", smtp_port=port, public_url="https://clinic.example"),
        )
    finally:
        controller.stop()


def link_token(message: Any) -> str:
    body = message.get_payload(decode=True).decode()
    found = re.search(r"https://clinic\.example/q/(\S+)", body)
    assert found, body
    return found.group(1)


def new_patient_course(db: Session, started_days_ago: int) -> Any:
    at = f.site(db)
    condition = f.condition(db, of=f.patient(db, at=at))
    f.prior_treatment(db, of=condition)
    by = f.practitioner(db, at=at)
    return f.course(db, of=condition, by=by, start_date=f.days_ago(started_days_ago))


@pytest.fixture
def course_50_days_in(db: Session) -> Any:
    course = new_patient_course(db, 50)
    f.injection_session(db, of=course)
    return course


def dues(db: Session, course_id: int) -> dict[str, DueQuestionnaire]:
    rows = db.scalars(select(DueQuestionnaire).where(DueQuestionnaire.course_id == course_id))
    return {d.time_point: d for d in rows}


def test_starting_a_course_creates_its_due_questionnaires(
    db: Session, course_50_days_in: Any
) -> None:
    due = dues(db, course_50_days_in.id)
    assert list(due) == ["baseline", "6w", "3m", "6m", "12m", "24m"]
    assert due["6w"].due_on == course_50_days_in.start_date + dt.timedelta(days=42)
    assert due["baseline"].instruments == ["NRS", "NRS_LEG", "ODI", "WORK", "ANALGESIC"]
    assert due["6m"].instruments == ["NRS", "NRS_LEG", "ODI", "PGIC", "WORK", "ANALGESIC"]


def test_the_first_injection_moves_the_time_points(db: Session) -> None:
    course = new_patient_course(db, 60)
    f.injection_session(db, of=course, session_date=f.days_ago(40))
    assert dues(db, course.id)["3m"].due_on == f.days_ago(40) + dt.timedelta(days=91)


def answers_form(due: DueQuestionnaire) -> dict[str, str]:
    form = {
        "action": "submit",
        "NRS__0": "3",
        "NRS_LEG__0": "refused",
        "WORK__0": "2",
        "ANALGESIC__0": "1",
    }
    for n, value in enumerate([1, 2, 1, 0, 3, 2, 1, 0, 2, 1]):
        form[f"ODI__{n}"] = str(value)
    if "PGIC" in due.instruments:
        form["PGIC__0"] = "2"
    return form


def test_invitation_to_answer_to_completeness(
    db: Session, anonymous: TestClient, inbox: tuple[Inbox, Settings], course_50_days_in: Any
) -> None:
    handler, settings = inbox
    report = send_due(db, today=TODAY, settings=settings)
    assert (report.invitations, report.reminders) == (1, 0)  # 6 weeks; baseline window closed
    message = handler.messages[0]
    assert message["To"].startswith("patient") and message["Subject"] == "Your questionnaire"
    token = link_token(message)
    assert db.scalars(select(Invitation.token_hash)).all().count(token) == 0  # only the hash

    page = anonymous.get(f"/q/{token}")
    assert page.status_code == 200
    assert "Oswestry Disability Index" in page.text and 'name="ODI__9"' in page.text

    saved = anonymous.post(f"/q/{token}", data={"action": "save", "NRS__0": "6"})
    assert saved.status_code == 200 and "Your answers are saved" in saved.text
    assert 'value="6" checked' in anonymous.get(f"/q/{token}").text

    due = dues(db, course_50_days_in.id)["6w"]
    done = anonymous.post(f"/q/{token}", data=answers_form(due))
    assert done.status_code == 200 and "Thank you" in done.text
    stored = {
        a.instrument: a
        for a in db.scalars(select(Assessment).where(Assessment.course_id == course_50_days_in.id))
    }
    assert stored["ODI"].score == 26.0 and stored["ODI"].source == "patient_link"
    assert stored["NRS"].score == 3 and stored["NRS"].time_point == "6w"
    assert stored["NRS_LEG"].scorable is False and stored["NRS_LEG"].items == ["refused"]
    assert stored["ODI"].day == 50

    by_point = {c.key: c for c in completeness(db, actor=system(), today=TODAY, by="time_point")}
    assert (by_point["6w"].answered, by_point["6w"].due) >= (1, 1)
    assert by_point["baseline"].answered < by_point["baseline"].due

    again = anonymous.get(f"/q/{token}")
    assert again.status_code == 410 and "already been answered" in again.text
    later = send_due(db, today=TODAY + dt.timedelta(days=7), settings=settings)
    assert later.reminders == 0  # never for an answered questionnaire


def test_reminders_replace_the_link(
    db: Session, anonymous: TestClient, inbox: tuple[Inbox, Settings]
) -> None:
    f.injection_session(db, of=(course := new_patient_course(db, 35)))
    assert course.id
    handler, settings = inbox
    send_due(db, today=TODAY, settings=settings)
    first = link_token(handler.messages[-1])
    assert send_due(db, today=TODAY + dt.timedelta(days=2), settings=settings).reminders == 0
    assert send_due(db, today=TODAY + dt.timedelta(days=3), settings=settings).reminders == 1
    assert handler.messages[-1]["Subject"] == "Reminder: your questionnaire"
    second = link_token(handler.messages[-1])
    replaced = anonymous.get(f"/q/{first}")
    assert replaced.status_code == 410 and "newer link" in replaced.text
    assert anonymous.get(f"/q/{second}").status_code == 200
    assert send_due(db, today=TODAY + dt.timedelta(days=7), settings=settings).reminders == 1
    assert send_due(db, today=TODAY + dt.timedelta(days=30), settings=settings).reminders == 0


def test_expired_and_unknown_links(
    db: Session, anonymous: TestClient, inbox: tuple[Inbox, Settings], course_50_days_in: Any
) -> None:
    handler, settings = inbox
    send_due(db, today=TODAY, settings=settings)
    token = link_token(handler.messages[-1])
    for invitation in db.scalars(select(Invitation)):
        invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    db.flush()
    expired = anonymous.get(f"/q/{token}")
    assert expired.status_code == 410 and "expired" in expired.text
    unknown = anonymous.get("/q/not-a-real-token")
    assert unknown.status_code == 404 and "not valid" in unknown.text


def test_invalid_answers_are_named_and_nothing_is_stored(
    db: Session, anonymous: TestClient, inbox: tuple[Inbox, Settings], course_50_days_in: Any
) -> None:
    handler, settings = inbox
    send_due(db, today=TODAY, settings=settings)
    token = link_token(handler.messages[-1])
    response = anonymous.post(f"/q/{token}", data={"action": "submit", "NRS__0": "12"})
    assert response.status_code == 422 and "12 is outside 0–10" in response.text
    count = db.scalars(select(Assessment).where(Assessment.course_id == course_50_days_in.id)).all()
    assert count == []


def test_coordinator_sees_due_and_completeness_in_the_api(
    db: Session, client: TestClient, course_50_days_in: Any
) -> None:
    overdue = client.get("/followup/due", params={"state": "overdue"}).json()
    assert any(r["course_id"] == course_50_days_in.id and r["time_point"] == "6w" for r in overdue)
    rows = client.get("/followup/completeness", params={"by": "site"}).json()
    site_id = db.get(Patient, course_50_days_in.patient_id).site_id  # type: ignore[union-attr]
    row = next(r for r in rows if r["key"] == str(site_id))
    assert (row["answered"], row["due"]) == (0, 2)  # baseline and 6 weeks are past due
    assert {"answered", "due", "completeness", "ci_lb", "ci_ub", "definition"} <= set(row)


def test_patient_sees_the_practitioners_training_not_outcomes(
    db: Session, anonymous: TestClient, inbox: tuple[Inbox, Settings], course_50_days_in: Any
) -> None:
    from prolo.registry import service
    from prolo.registry.entities import ENTITIES

    training = ENTITIES["training_record"]
    service.create(
        db,
        training,
        training.create(
            practitioner_id=course_50_days_in.practitioner_id,
            organization="AAOM",
            course="Prolotherapy of the spine",
            completed_on=f.days_ago(900),
            hours=20,
        ),
        actor=f.ACTOR,
    )
    handler, settings = inbox
    send_due(db, today=TODAY, settings=settings)
    token = link_token(handler.messages[-1])
    page = anonymous.get(f"/q/{token}/about")
    assert page.status_code == 200
    assert (
        "American Association of Orthopaedic Medicine" in page.text and "not verified" in page.text
    )
    assert (
        "Spine Intervention Society" in page.text
        and "Physical Medicine and Rehabilitation" in page.text
    )
    assert "success" not in page.text.lower()
    assert anonymous.get(f"/q/{token}").status_code == 200  # reading it does not use up the link

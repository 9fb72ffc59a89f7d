"""The coordinator's follow-up pages through the in-process client: the worklist and its
filters, sending now over a real SMTP server on loopback, a questionnaire taken by telephone,
completeness, site scoping and the 403 page for the researcher."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.assessments.models import Assessment
from prolo.followup.models import DueQuestionnaire
from prolo.registry import models as m
from prolo.registry.models import AuditEntry
from prolo.settings import Settings
from tests import factories as f
from tests.conftest import Identities
from tests.followup.test_flow import Inbox, answers_form, free_port
from tests.web.test_pages import sign_in


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, public_url="https://clinic.example")
    monkeypatch.setattr("prolo.followup.worklist_pages.get_settings", lambda: settings)
    try:
        yield handler
    finally:
        controller.stop()


def course_at(db: Session, site_id: int, started_days_ago: int = 50, **patient: Any) -> Any:
    at = db.get(m.Site, site_id)
    assert at is not None
    condition = f.condition(db, of=f.patient(db, at=at, **patient))
    f.prior_treatment(db, of=condition)
    by = f.practitioner(db, at=at)
    course = f.course(db, of=condition, by=by, start_date=f.days_ago(started_days_ago))
    f.injection_session(db, of=course)
    return course


def due_of(db: Session, course_id: int, time_point: str) -> DueQuestionnaire:
    found = db.scalars(
        select(DueQuestionnaire).where(
            DueQuestionnaire.course_id == course_id, DueQuestionnaire.time_point == time_point
        )
    ).one()
    return found


def test_worklist_shows_own_sites_due_questionnaires_with_filters(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    home = course_at(db, identities.home_site_id)
    away = course_at(db, identities.away_site_id)
    sign_in(anonymous, identities, "coordinator")
    page = anonymous.get("/app/followup")
    assert page.status_code == 200
    home_mrn = db.get(m.Patient, home.patient_id).external_id  # type: ignore[union-attr]
    away_mrn = db.get(m.Patient, away.patient_id).external_id  # type: ignore[union-attr]
    assert home_mrn in page.text and away_mrn not in page.text
    assert f'action="/app/followup/{due_of(db, home.id, "6w").id}/send"' in page.text
    missed = anonymous.get("/app/followup", params={"state": "missed"}).text
    assert f"/app/followup/{due_of(db, home.id, '6w').id}/send" not in missed
    assert home_mrn in missed  # the baseline window has closed
    other = anonymous.get("/app/followup", params={"state": "upcoming", "time_point": "3m"}).text
    assert home_mrn in other and "6 weeks" not in other.split("<tbody>")[1].split("</tbody>")[0]
    by_doctor = anonymous.get(
        "/app/followup", params={"practitioner_id": str(home.practitioner_id + 10_000)}
    ).text
    assert home_mrn not in by_doctor and "Nothing matches these filters" in by_doctor
    assert "Completeness by time point" in page.text
    by_site = anonymous.get("/app/followup", params={"by": "site"}).text
    assert "Completeness by site" in by_site and "HOME" in by_site


def test_researcher_gets_the_403_page(anonymous: TestClient, identities: Identities) -> None:
    sign_in(anonymous, identities, "researcher")
    page = anonymous.get("/app/followup")
    assert page.status_code == 403 and "researcher role cannot use this page" in page.text


def test_send_now_e_mails_the_patient_and_is_audited(
    anonymous: TestClient, identities: Identities, db: Session, inbox: Inbox
) -> None:
    course = course_at(db, identities.home_site_id)
    due = due_of(db, course.id, "6w")
    token = sign_in(anonymous, identities, "coordinator")
    sent = anonymous.post(
        f"/app/followup/{due.id}/send",
        data={"csrf_token": token, "back": "/app/followup?state=overdue"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/app/followup?state=overdue&notice=invitation"
    assert len(inbox.messages) == 1 and inbox.messages[0]["Subject"] == "Your questionnaire"
    assert "The invitation was sent." in anonymous.get(sent.headers["location"]).text
    again = anonymous.post(
        f"/app/followup/{due.id}/send", data={"csrf_token": token}, follow_redirects=False
    )
    assert again.headers["location"] == "/app/followup?notice=reminder"
    assert inbox.messages[1]["Subject"] == "Reminder: your questionnaire"
    actions = db.scalars(
        select(AuditEntry.action).where(
            AuditEntry.entity == "due_questionnaire",
            AuditEntry.entity_id == due.id,
            AuditEntry.actor == "coordinator",
        )
    ).all()
    assert sorted(actions) == ["invitation_sent", "reminder_sent"]


def test_send_now_refuses_naming_why(
    anonymous: TestClient, identities: Identities, db: Session, inbox: Inbox
) -> None:
    course = course_at(db, identities.home_site_id, email=None)
    due = due_of(db, course.id, "6w")
    token = sign_in(anonymous, identities, "coordinator")
    refused = anonymous.post(f"/app/followup/{due.id}/send", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "the patient has no e-mail address" in refused.text
    upcoming = due_of(db, course.id, "3m")
    early = anonymous.post(f"/app/followup/{upcoming.id}/send", data={"csrf_token": token})
    assert early.status_code == 409 and "its window opens on" in early.text
    away = due_of(db, course_at(db, identities.away_site_id).id, "6w")
    hidden = anonymous.post(f"/app/followup/{away.id}/send", data={"csrf_token": token})
    assert hidden.status_code == 404
    forged = anonymous.post(f"/app/followup/{due.id}/send", data={})
    assert forged.status_code == 403
    assert inbox.messages == []


def test_questionnaire_taken_by_phone_is_scored_and_audited(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    course = course_at(db, identities.home_site_id)
    due = due_of(db, course.id, "6w")
    token = sign_in(anonymous, identities, "coordinator")
    form = anonymous.get(f"/app/followup/{due.id}/phone?back=/app/followup%3Fstate%3Dopen")
    assert form.status_code == 200 and 'name="ODI__9"' in form.text
    assert 'value="/app/followup?state=open"' in form.text
    bad = {**answers_form(due), "csrf_token": token, "NRS__0": "11"}
    rejected = anonymous.post(f"/app/followup/{due.id}/phone", data=bad)
    assert rejected.status_code == 422 and "Nothing was saved" in rejected.text
    assert 'value="11"' not in rejected.text  # 11 is not a choice; the other answers stay
    assert re.search(r'name="ODI__0" value="1" checked', rejected.text)
    future = {**answers_form(due), "csrf_token": token, "assessed_on": "2999-01-01"}
    too_late = anonymous.post(f"/app/followup/{due.id}/phone", data=future)
    assert too_late.status_code == 422 and "is in the future" in too_late.text
    early = {**answers_form(due), "csrf_token": token, "assessed_on": "2001-01-01"}
    outside = anonymous.post(f"/app/followup/{due.id}/phone", data=early)
    assert outside.status_code == 422 and "is outside this time point&#39;s window" in outside.text
    answered_on = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    good = {
        **answers_form(due),
        "csrf_token": token,
        "assessed_on": answered_on,
        "back": "/app/followup?state=open",
    }
    saved = anonymous.post(f"/app/followup/{due.id}/phone", data=good, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/app/followup?state=open&notice=phone"
    stored = {
        a.instrument: a
        for a in db.scalars(select(Assessment).where(Assessment.course_id == course.id))
    }
    assert stored["ODI"].score == 26.0 and stored["ODI"].source == "phone"
    assert stored["NRS"].time_point == "6w"
    db.refresh(due)
    assert due.status == "answered"
    assert db.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "answered_by_phone",
            AuditEntry.entity_id == due.id,
            AuditEntry.actor == "coordinator",
        )
    ).first()
    twice = anonymous.post(f"/app/followup/{due.id}/phone", data=good)
    assert twice.status_code == 422 and "already answered" in twice.text

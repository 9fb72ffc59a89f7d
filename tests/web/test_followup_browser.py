"""A coordinator's morning in a real Chromium: filter the worklist to a site, send the 6-week
invitation now (received by an SMTP server on loopback), then enter a questionnaire taken by
telephone; the worklist says each was done."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from prolo.db import engine_for, transaction
from prolo.security import service as security
from prolo.security.principal import system
from prolo.settings import Settings
from tests import factories as f
from tests.followup.test_flow import Inbox, free_port

pytestmark = pytest.mark.browser
PASSWORD = "correct horse coordinator staple"


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, public_url="https://clinic.example")
    # The live server runs in this process: its route reads the settings through this name.
    monkeypatch.setattr("prolo.followup.worklist_pages.get_settings", lambda: settings)
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def clinic(live_database: str) -> dict[str, Any]:
    with transaction(engine_for(live_database)) as db:
        at = f.site(db)
        person = f.patient(db, at=at)
        condition = f.condition(db, of=person)
        f.prior_treatment(db, of=condition)
        course = f.course(db, of=condition, by=f.practitioner(db, at=at), start_date=f.days_ago(50))
        f.injection_session(db, of=course)
        username = f"coordinator{at.id}"
        security.add_user(
            db,
            username=username,
            password=PASSWORD,
            role="coordinator",
            site_codes=[at.code],
            actor=system(),
        )
        return {"username": username, "site": at.name, "mrn": person.external_id}


def test_coordinator_sends_the_invitation_and_records_a_phone_answer(
    live_server: str, chromium: Any, clinic: dict[str, Any], inbox: Inbox, tmp_path: Any
) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(clinic["username"])
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/app")
    page.get_by_role("link", name="Follow-up").click()
    page.get_by_role("heading", name="Follow-up worklist").wait_for()
    page.get_by_label("Site").select_option(label=clinic["site"])
    page.get_by_label("Time point").select_option(label="6 weeks")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/app/followup?**")
    send = page.get_by_role("button", name=f"Send e-mail now for {clinic['mrn']}, 6 weeks")
    send.click()
    page.get_by_text("The invitation was sent.").wait_for()
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["Subject"] == "Your questionnaire"
    page.screenshot(path=str(tmp_path / "followup-worklist.png"), full_page=True)

    page.get_by_role("link", name=f"Record by phone for {clinic['mrn']}, 6 weeks").click()
    page.get_by_role("heading", name="Questionnaire taken by telephone").wait_for()
    page.get_by_role("group", name="Average back or neck pain in the past week").get_by_label(
        "3", exact=True
    ).check()
    page.get_by_role("button", name="Save the answers").click()
    page.get_by_text("The questionnaire taken by telephone was saved and scored.").wait_for()
    assert "time_point=6w" in page.url
    context.close()

"""The patient's questionnaire in a real Chromium on a phone: labels, keyboard, no sideways
scrolling, partial answers kept, and a clear message once used."""

from __future__ import annotations

from typing import Any

import pytest

from prolo.db import engine_for, transaction
from prolo.followup.models import DueQuestionnaire
from prolo.followup.service import issue_link
from tests import factories as f

pytestmark = pytest.mark.browser


@pytest.fixture
def link(live_server: str, live_database: str) -> str:
    with transaction(engine_for(live_database)) as db:
        at = f.site(db)
        condition = f.condition(db, of=f.patient(db, at=at))
        course = f.course(db, of=condition, by=f.practitioner(db, at=at), start_date=f.days_ago(45))
        due = db.query(DueQuestionnaire).filter_by(course_id=course.id, time_point="6w").one()
        _, token = issue_link(db, due, kind="invitation")
    return f"{live_server}/q/{token}"


def test_patient_answers_on_a_phone(chromium: Any, link: str) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(link)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Every radio button has a label a screen reader can announce.
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input[type=radio],input[type=checkbox]')]"
        ".filter(i => !i.closest('label')).length"
    )
    assert unlabelled == 0
    page.locator("input[name=NRS__0][value='4']").check()
    page.get_by_role("button", name="Save and finish later").click()
    page.get_by_text("Your answers are saved").wait_for()
    page.goto(link)
    assert page.locator("input[name=NRS__0][value='4']").is_checked()
    # Keyboard only: focus the first answer and move along the scale with the arrow key.
    page.locator("input[name=NRS_LEG__0][value='0']").focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("input[name=NRS_LEG__0][value='1']").is_checked()
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    page.goto(link)
    page.get_by_role("heading", name="Already answered").wait_for()
    assert violations == []
    context.close()

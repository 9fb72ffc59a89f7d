"""A clinician's day in a real Chromium: log in, register a patient, a condition, a course and
an injection session through the forms (and meet a rule's message beside its field), enter a
baseline questionnaire, and see the score on the chart."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from prolo.db import engine_for, transaction
from prolo.security import service as security
from prolo.security.principal import system
from tests import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "correct horse clinic staple"


@pytest.fixture
def clinic(live_database: str) -> dict[str, str]:
    with transaction(engine_for(live_database)) as db:
        at = f.site(db)
        doctor = f.practitioner(db, at=at)
        username = f"clinician{at.id}"
        security.add_user(
            db,
            username=username,
            password=PASSWORD,
            role="clinician",
            site_codes=[at.code],
            actor=system(),
        )
        return {"username": username, "site": at.name, "practitioner": doctor.name}


def choose(page: Any, label: str, text: str) -> None:
    """Pick the option of a labelled select whose text contains ``text``."""
    select = page.get_by_label(label, exact=True)
    value = select.locator("option", has_text=text).first.get_attribute("value")
    select.select_option(value)


def on_chart(page: Any) -> None:
    """Wait for the chart after saving a form; fail with the form's errors if it refused."""
    page.wait_for_load_state()
    errors = page.locator("#form-errors")
    if errors.count():
        raise AssertionError(errors.inner_text())
    page.get_by_role("heading", name="Patient JOURNEY-1").wait_for()


def test_clinician_journey(
    live_server: str, chromium: Any, clinic: dict[str, str], tmp_path: Any
) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server}/")
    page.get_by_label("Username").fill(clinic["username"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Your patients and outcomes").wait_for()
    page.get_by_text("Computed").wait_for()  # htmx fetched the outcome figures
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_role("link", name="Register a new patient").first.click()
    page.get_by_label("External id (MRN) (required)").fill("JOURNEY-1")
    page.get_by_label("Given name").fill("Sam")
    page.get_by_label("Family name").fill("Journey")
    page.get_by_label("Birth date").fill("1968-04-05")
    choose(page, "Sex (required)", "Female")
    choose(page, "Consent status (required)", "Given")
    page.get_by_role("button", name="Save patient").click()
    assert (
        "required when consent_status is 'given'"
        in page.locator("#consent_date-error").inner_text()
    )
    page.get_by_label("Consent date").fill(dt.date.today().isoformat())
    page.get_by_role("button", name="Save patient").click()
    on_chart(page)

    page.get_by_role("link", name="Add condition").click()
    page.get_by_label("ICD-10-CM code (required)").fill("not a code")
    choose(page, "Region (required)", "Lumbar")
    page.get_by_label("Onset date (required)").fill("2024-02-01")
    choose(page, "Diagnosis confirmation (required)", "Imaging")
    page.get_by_role("button", name="Save condition").click()
    beside = page.locator("#icd10_code-error")
    beside.wait_for()
    assert "not an ICD-10-CM code" in beside.inner_text()
    page.get_by_label("ICD-10-CM code (required)").fill("M54.50")
    page.get_by_role("button", name="Save condition").click()
    on_chart(page)

    start = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    page.get_by_role("link", name="Add treatment course").click()
    choose(page, "Condition (required)", "M54.50")
    choose(page, "Practitioner (required)", clinic["practitioner"])
    page.get_by_label("Start date (required)").fill(start)
    page.get_by_label("Planned sessions (required)").fill("3")
    page.get_by_role("button", name="Save treatment course").click()
    on_chart(page)

    page.get_by_role("link", name="Add a session").click()
    choose(page, "Practitioner (required)", clinic["practitioner"])
    page.get_by_label("Session date (required)").fill(start)
    choose(page, "Agent (required)", "Dextrose")
    page.get_by_label("Concentration (%)").fill("15")
    choose(page, "Anesthetic (required)", "Lidocaine")
    page.get_by_label("Total volume (ml) (required)").fill("20")
    page.get_by_label("Injection count (required)").fill("12")
    choose(page, "Guidance (required)", "Ultrasound")
    choose(page, "Target 1", "Interspinous")
    page.get_by_label("Levels 1").fill("L4-L5, L5-S1")
    page.get_by_role("button", name="Save injection session").click()
    on_chart(page)

    page.get_by_role("link", name="Enter a questionnaire").last.click()
    page.get_by_label("Questionnaire").select_option("NRS")
    page.get_by_role("button", name="Choose").click()
    page.get_by_label("Date answered (required)").fill(start)
    page.locator("input[name=item__0][value='7']").check()
    page.get_by_role("button", name="Save and score").click()
    assert page.locator("#score").inner_text() == "7"
    page.get_by_role("link", name="Chart of patient JOURNEY-1").click()
    page.get_by_role("heading", name="Score trajectories").wait_for()
    assert page.locator("figure.trajectory svg").count() == 1
    assert "NRS at baseline: score 7" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "chart.png"), full_page=True)
    assert violations == []
    context.close()

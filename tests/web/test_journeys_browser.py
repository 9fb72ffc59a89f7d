"""Journeys in a real Chromium that the other browser tests do not walk: a visitor with no
account (the root ends on the login page; the public pages are reachable), a new administrator
forced to replace a one-time password, a researcher who meets no patient identifier, and the
administrator who finds the set-up's writes in the audit trail."""

from __future__ import annotations

import re
from typing import Any

import pytest

from prolo.db import engine_for, transaction
from prolo.security import service as security
from prolo.security.principal import system
from tests.web.walk import WalkRegistry, walk_registry

__all__ = ["walk_registry"]  # the fixture, used by name

pytestmark = pytest.mark.browser
ONE_TIME = "one time only admin 4821"
CHOSEN = "a much better admin passphrase"


def log_in(page: Any, server: str, username: str, password: str) -> None:
    page.goto(f"{server}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_a_visitor_without_an_account(live_server: str, page: Any) -> None:
    page.goto(f"{live_server}/")
    assert page.url == f"{live_server}/login"
    assert page.locator('form input[type="hidden"][name="csrf_token"]').count() == 1
    page.goto(f"{live_server}/about")
    page.get_by_role("heading", name="What prolotherapy is").wait_for()
    page.get_by_role("link", name="Registry figures").click()
    page.get_by_role("heading", name="The registry's own figures").wait_for()
    page.get_by_role("link", name="Questions to ask").click()
    page.get_by_role("heading", name="Questions to ask before prolotherapy").wait_for()
    assert "does not recommend" in page.content()
    page.get_by_role("link", name="Staff log in").click()
    assert page.url == f"{live_server}/login"


def test_a_new_administrator_must_replace_the_one_time_password(
    live_server: str, live_database: str, page: Any
) -> None:
    with transaction(engine_for(live_database)) as db:
        security.add_user(
            db,
            username="second-admin",
            password=ONE_TIME,
            role="admin",
            site_codes=[],
            actor=system("journey"),
            must_change_password=True,
        )
    log_in(page, live_server, "second-admin", ONE_TIME)
    assert page.url == f"{live_server}/app/password"
    page.get_by_text("one-time password").first.wait_for()
    page.goto(f"{live_server}/app/admin/users")  # nothing else opens first
    assert page.url == f"{live_server}/app/password"
    page.get_by_label("Current password").fill(ONE_TIME)
    page.get_by_label("New password (at least 12 characters", exact=False).fill(CHOSEN)
    page.get_by_label("New password again").fill(CHOSEN)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(re.compile(r".*/app(\?.*)?$"))
    page.get_by_role("link", name="Administration").click()
    assert page.url == f"{live_server}/app/admin"
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "second-admin", CHOSEN)
    assert page.url == f"{live_server}/app"


def test_a_researcher_meets_no_identifier_and_the_audit_has_every_write(
    live_server: str, chromium: Any, walk_registry: WalkRegistry
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    log_in(page, live_server, *walk_registry.logins["researcher"])
    seen = []
    for path in ("/app", "/app/reports", "/app/evidence"):
        page.goto(f"{live_server}{path}")
        seen.append(page.inner_text("body"))
    text = "\n".join(seen)
    leaked = [n for n in walk_registry.patient_names if re.search(rf"\b{re.escape(n)}\b", text)]
    assert leaked == [], f"a researcher's pages show patient identifiers: {leaked[:5]}"
    assert page.goto(f"{live_server}/app/patients").status == 403
    context.close()

    context = chromium.new_context()
    page = context.new_page()
    log_in(page, live_server, *walk_registry.logins["admin"])
    page.goto(f"{live_server}/app/admin/audit?entity=user&action=create")
    source = page.content()  # the records' values sit in closed <details>
    assert "walk set-up" in page.inner_text("body")
    for role in ("clinician", "coordinator", "researcher"):
        assert f"walk-{role}" in source, f"the creation of walk-{role} is not in the audit"
    context.close()

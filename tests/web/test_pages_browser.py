"""Staff pages in a real Chromium: log in on a phone-sized screen under the strict CSP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import LIVE_ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_login_and_dashboard_on_a_phone(live_server: str, chromium: Any, tmp_path: Any) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{live_server}/app")
    assert page.url.endswith("/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(LIVE_ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/app")
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.get_by_role("cell", name="Patients").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the page scrolls sideways on a phone"
    page.screenshot(path=str(tmp_path / "dashboard.png"))
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server}/login")
    assert violations == []
    context.close()

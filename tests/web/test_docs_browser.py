"""/docs works in a real browser under the strict Content-Security-Policy, with no CDN."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_from_vendored_files(live_server: str, page: Any) -> None:
    violations: list[str] = []
    requests: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server}/docs")
    page.wait_for_selector("text=/patients", timeout=15000)
    assert page.locator(".opblock").count() > 50
    assert violations == []
    assert all(url.startswith(live_server) or url.startswith("data:") for url in requests), requests

"""Every catalogued page in a real Chromium, as the role that opens it: axe-core (vendored from
the npm registry, tests/web/vendor/axe-core) finds no serious or critical violation, the page
does not scroll sideways on a 390 × 844 screen, and a screenshot of it is kept as an artifact.

The screenshots and a table of pages × violations go to ``$PROLO_TEST_ARTIFACTS`` (default: a
temporary folder, printed at the end).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.web.page_catalogue import PAGES, CataloguedPage
from tests.web.walk import WalkRegistry, pages_for, walk_registry

__all__ = ["walk_registry"]  # the fixture, used by name

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))
  }));
}"""


def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("PROLO_TEST_ARTIFACTS")
    folder = Path(chosen) / "pages" if chosen else tmp_path_factory.mktemp("pages")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Any, server: str, username: str, password: str) -> None:
    page.goto(f"{server}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/app")


def check(page: Any, server: str, entry: CataloguedPage, path: str, shots: Path) -> dict[str, Any]:
    started = time.perf_counter()
    response = page.goto(f"{server}{path}")
    loaded = time.perf_counter()
    status = response.status if response is not None else None
    assert status == 200, f"{path} answered {status}"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(RUN_AXE)
    checked = time.perf_counter()
    name = f"{entry.role or 'public'}-{entry.name}".replace(" ", "-").replace("/", "-")
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    return {
        "page": entry.name,
        "path": path,
        "role": entry.role or "public",
        "violations": violations,
        "sideways": page.evaluate("document.documentElement.scrollWidth") > PHONE["width"],
        "seconds": {
            "load": round(loaded - started, 2),
            "axe": round(checked - loaded, 2),
            "screenshot": round(time.perf_counter() - checked, 2),
        },
    }


def test_every_page_passes_axe_on_a_phone(
    live_server: str,
    chromium: Any,
    walk_registry: WalkRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = artifacts(tmp_path_factory)
    results = []
    for role in (None, *sorted({p.role for p in PAGES if p.role})):
        # axe is injected as a script, which the strict CSP would rightly refuse
        context = chromium.new_context(viewport=PHONE, bypass_csp=True)
        page = context.new_page()
        if role is not None:
            log_in(page, live_server, *walk_registry.logins[role])
        for entry in pages_for(role):
            results.append(check(page, live_server, entry, walk_registry.fill(entry), shots))
        context.close()
    (shots / "axe.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    lines = [
        f"{r['role']:<12} {r['path']:<52} {r['seconds']['load']:5.2f}s "
        + (", ".join(f"{v['id']} ({v['impact']})" for v in r["violations"]) or "none")
        for r in results
    ]
    print(f"\naxe-core on {len(results)} pages (screenshots in {shots}):\n" + "\n".join(lines))
    blocking = [
        f"{r['path']} ({r['role']}): {v['id']} [{v['impact']}] {v['help']} at {v['nodes']}"
        for r in results
        for v in r["violations"]
        if v["impact"] in BLOCKING
    ]
    assert blocking == [], "serious or critical accessibility violations:\n" + "\n".join(blocking)
    sideways = [r["path"] for r in results if r["sideways"]]
    assert sideways == [], f"these pages scroll sideways on a 390-pixel screen: {sideways}"

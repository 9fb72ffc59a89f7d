"""Public pages: no account, no patient identifier, the setting that turns them off, and the
registry's figures withheld below the minimum volume."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.public import figures
from prolo.registry import models as m
from prolo.settings import get_settings
from tests import factories as f

PUBLIC = ("/about", "/about/figures", "/about/questions")
MEASURES_NOT_RECOMMENDS = "does not recommend"


@pytest.fixture(autouse=True)
def _no_cached_figures() -> Iterator[None]:
    figures.clear_cache()
    yield
    figures.clear_cache()


def test_public_pages_need_no_account(anonymous: TestClient) -> None:
    for path in PUBLIC:
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 200, path
        assert MEASURES_NOT_RECOMMENDS in response.text
    about = " ".join(anonymous.get("/about").text.split())
    for name in (
        "sclerosant therapy",
        "sclerotherapy",
        "regenerative injection therapy",
        "proliferative injection therapy",
        "nonsurgical ligament reconstruction",
    ):
        assert name in about
    assert "Ongley" in about and "Odds ratio" in about


def test_anonymous_root_still_ends_on_login(anonymous: TestClient) -> None:
    response = anonymous.get("/")
    assert response.url.path == "/login"


def test_setting_turns_public_pages_off(
    anonymous: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    doctor = f.practitioner(db)
    monkeypatch.setenv("PROLO_PUBLIC_PAGES", "false")
    get_settings.cache_clear()
    try:
        for path in (*PUBLIC, f"/about/practitioners/{doctor.id}"):
            response = anonymous.get(path)
            assert response.status_code == 404, path
            assert "does not publish public pages" in response.text
    finally:
        monkeypatch.delenv("PROLO_PUBLIC_PAGES")
        get_settings.cache_clear()


def test_practitioner_profile_shows_training_and_withholds_a_small_figure(
    anonymous: TestClient, db: Session
) -> None:
    record = f.treated_patient(db)
    doctor, person = record["practitioner"], record["patient"]
    app: Any = anonymous.app
    figures.registry_figures(app.state.engine.url.render_as_string(hide_password=False), wait=True)
    page = anonymous.get(f"/about/practitioners/{doctor.id}")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert doctor.name in text and MEASURES_NOT_RECOMMENDS in text
    assert "Courses of prolotherapy recorded in this registry: 1" in text
    assert "Fewer than 20 followed courses" in text
    assert person.external_id not in text
    assert anonymous.get("/about/practitioners/999999").status_code == 404


@pytest.fixture
def synthetic_registry(fresh_database_url: str) -> str:
    from prolo.synth import params, run

    run.to_database(fresh_database_url, 300, 7, params.load(None))
    return fresh_database_url


def _client(url: str) -> Iterator[TestClient]:
    from prolo.web.app import create_app

    with TestClient(create_app(url), base_url="https://testserver") as client:
        yield client


def figures_page(client: TestClient) -> str:
    """The figures page once its figures are computed (in the background), spaces collapsed."""
    deadline = time.monotonic() + 120
    while "being computed" in (page := client.get("/about/figures").text):
        assert time.monotonic() < deadline, "the figures were never computed"
        time.sleep(0.2)
    return " ".join(page.split())


def test_registry_figures_and_a_practitioner_above_the_minimum(synthetic_registry: str) -> None:
    from prolo.db import engine_for

    assert figures.registry_figures(synthetic_registry) is None  # computing in the background
    result = figures.registry_figures(synthetic_registry, wait=True)
    assert result is not None
    assert result.followed >= result.minimum_volume and result.enough
    bounds = {e["estimand"]: e["estimate"] for e in result.estimates}
    # the completers' figure lies between the two bounds for the courses not followed
    assert bounds["missing_failure"] <= bounds["completers"] <= bounds["missing_success"]
    assert figures.registry_figures(synthetic_registry) is result  # cached
    # once stale, the old figures are still served while a thread computes new ones
    assert figures.registry_figures(synthetic_registry, max_age=0) is result
    deadline = time.monotonic() + 60
    while figures.registry_figures(synthetic_registry) in (result, None):
        assert time.monotonic() < deadline, "the figures were never refreshed"
        time.sleep(0.1)

    # every practitioner's figure comes from the same courses, counted once each
    shares = result.practitioners.values()
    assert sum(p.followed for p in shares) == result.followed
    assert sum(p.evaluable for p in shares) == result.evaluable
    shown_rates = [p for p in shares if p.enough]
    withheld = [p for p in shares if not p.enough]
    assert shown_rates and withheld, "the synthetic registry should have both kinds"
    for p in shown_rates:
        assert p.ci_lb is not None and p.ci_ub is not None and p.estimate is not None
        assert p.ci_lb <= p.estimate <= p.ci_ub
        assert p.lower_bound is not None and p.upper_bound is not None
        assert p.lower_bound <= p.estimate <= p.upper_bound
    assert all(p.estimate is None and p.ci_lb is None for p in withheld)

    with Session(engine_for(synthetic_registry)) as session:
        names = session.scalars(select(m.Patient.external_id)).all()
    busy = next(i for i, p in result.practitioners.items() if p.enough)
    quiet = next(i for i, p in result.practitioners.items() if not p.enough)
    figures.clear_cache()
    for client in _client(synthetic_registry):
        assert "being computed" in client.get("/about/figures").text  # nobody waits
        page = figures_page(client)
        assert "Follow-up completeness" in page and "95% interval" in page
        assert "fewer than" not in page
        shown = " ".join(client.get(f"/about/practitioners/{busy}").text.split())
        assert re.search(r"95% interval \d+% to \d+%", shown)
        quiet_page = " ".join(client.get(f"/about/practitioners/{quiet}").text.split())
        assert "Fewer than 20 followed courses" in quiet_page
        for text in (page, shown, quiet_page):
            assert not any(re.search(rf"\b{re.escape(n)}\b", text) for n in names[:50])


def test_a_small_registry_says_fewer_than_the_minimum(fresh_database_url: str) -> None:
    result = figures.compute(fresh_database_url)
    assert not result.enough and result.estimates == []
    for client in _client(fresh_database_url):
        page = figures_page(client)
        assert "fewer than 20 followed courses" in page

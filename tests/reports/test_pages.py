"""The outcome dashboard on a small committed registry (synthetic courses and a few named
patients): computed in the background and polled, the estimand table with the completeness
warning, filters, a bad definition named beside its field, the download link, and no patient
name or birth date on any page a researcher can open.

SQLite only: the report reads the database through its URL (committed data, not the rolled-back
test transaction), and the same extraction is already run on both databases by tests/outcomes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from prolo.db import engine_for, transaction
from prolo.registry import models as m
from prolo.registry.setup import initialise
from prolo.security import service as security
from prolo.security.principal import system
from prolo.synth import params, run
from prolo.web.app import create_app
from prolo.web.nav import items_for
from tests import factories as f
from tests.web.page_catalogue import PAGES
from tests.web.test_pages import log_in

PASSWORD = "correct horse staff staple"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, set[str]]]:
    """The URL and every patient name and birth date it holds."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'registry.db'}"
    initialise(url, admin_password=PASSWORD)
    run.to_database(url, 120, 7, params.load(None))
    with transaction(engine_for(url)) as db:
        at = db.scalars(select(m.Site)).first()
        assert at is not None
        for _ in range(3):
            f.condition(db, of=f.patient(db, at=at, given_name="Zebulon", family_name="Quixley"))
        for role in ("researcher", "clinician"):
            security.add_user(
                db,
                username=role,
                password=PASSWORD,
                role=role,
                site_codes=[at.code],
                actor=system("test"),
            )
        secrets: set[str] = set()
        for given, family, born in db.execute(
            select(m.Patient.given_name, m.Patient.family_name, m.Patient.birth_date)
        ):
            secrets.update(x for x in (given, family) if x)
            if born is not None:
                secrets.add(born.isoformat())
    yield url, secrets
    engine_for(url).dispose()


def signed_in(url: str, role: str) -> TestClient:
    client = TestClient(create_app(url), base_url="https://testserver")
    assert log_in(client, role, PASSWORD).status_code == 303
    return client


def finished_result(client: TestClient, query: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        fragment = client.get(f"/app/reports/result?{query}").text
        if "is being computed" not in fragment:
            return fragment
        assert time.monotonic() < deadline, "the report did not finish in 2 minutes"
        time.sleep(0.5)


def test_dashboard_computes_in_the_background_and_shows_the_estimands(
    registry: tuple[str, set[str]],
) -> None:
    url, _ = registry
    with signed_in(url, "researcher") as client:
        first = client.get("/app/reports?definition=pain30@6m")
        assert first.status_code == 200
        assert 'hx-get="/app/reports/result?definition=pain30%406m"' in first.text or (
            "Estimands for pain30@6m" in first.text
        )
        done = finished_result(client, "definition=pain30%406m")
        assert "Estimands for pain30@6m" in done
        assert "Multiple imputation (MAR)" in done and "Missing = failure" in done
        assert "Follow-up completeness at 6m" in done and "<svg" not in done  # CSP: no inline
        figure = re.search(r'src="(/app/reports/figure/estimands\.svg\?[^"]+)"', done)
        assert figure
        image = client.get(figure.group(1).replace("&amp;", "&"))
        assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
        assert image.text.startswith("<svg")
        assert "hx-get" not in done  # polling stops once the report is there
        again = client.get("/app/reports?definition=pain30@6m").text
        assert "Estimands for pain30@6m" in again and "less than a minute ago" in again
        assert 'href="/research/courses?format=csv"' in again
        assert 'href="/app/evidence"' in again
        csv = client.get("/research/courses?format=csv")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")


def test_filters_and_a_bad_definition(registry: tuple[str, set[str]]) -> None:
    url, _ = registry
    with signed_in(url, "researcher") as client:
        client.get("/app/reports?definition=pain50@6m&region=cervical")
        cervical = finished_result(client, "definition=pain50%406m&region=cervical")
        everyone = finished_result(client, "definition=pain50%406m")
        courses = re.compile(r"from (\d+) treatment courses")
        found_cervical, found_all = courses.search(cervical), courses.search(everyone)
        assert found_cervical and found_all
        assert int(found_cervical.group(1)) < int(found_all.group(1))
        bad = client.get("/app/reports?definition=pain99")
        assert bad.status_code == 422
        assert 'id="definition-error"' in bad.text and "is not a success definition" in bad.text


def test_no_patient_name_or_birth_date_on_researcher_pages(
    registry: tuple[str, set[str]],
) -> None:
    url, secrets = registry
    assert "Quixley" in secrets and any(re.fullmatch(r"\d{4}-\d\d-\d\d", s) for s in secrets)
    paths = {item.href for item in items_for("researcher")}
    paths |= {p.path for p in PAGES if p.role == "researcher" and "{" not in p.path}
    with signed_in(url, "researcher") as client:
        client.get("/app/reports")
        paths.add(f"/app/reports/result?definition={'pain50%406m'}")
        finished_result(client, "definition=pain50%406m")
        for path in sorted(paths):
            text = client.get(path).text
            words = set(re.findall(r"[\w-]+", text))
            leaked = sorted(s for s in secrets if s in words)
            assert not leaked, f"{path} shows {leaked[:5]}"
        assert client.get("/app/patients").status_code == 403


def test_clinicians_dashboard_is_limited_to_their_sites(registry: tuple[str, set[str]]) -> None:
    url, _ = registry
    with signed_in(url, "clinician") as client:
        page = client.get("/app/reports")
        assert page.status_code == 200
        assert "All my sites" in page.text and "/research/courses" not in page.text

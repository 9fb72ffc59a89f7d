"""Staff pages through the in-process client: login, dashboard, patients, site scoping, logout."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from prolo.registry import models as m
from tests import factories as f
from tests.conftest import Identities


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str) -> Response:
    """Post the login form as a browser does: open it first, send its CSRF token back."""
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def sign_in(client: TestClient, identities: Identities, role: str = "clinician") -> str:
    """Log in as ``role``; returns the session's CSRF token for the forms that follow."""
    response = log_in(client, role, identities.passwords[role])
    assert response.status_code == 303 and response.headers["location"] == "/app"
    return csrf_of(client.get("/app").text)


def test_pages_need_a_login(anonymous: TestClient) -> None:
    for path in ("/app", "/app/patients", "/app/patients/1"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"


def test_wrong_password_shows_the_reason(anonymous: TestClient) -> None:
    response = log_in(anonymous, "clinician", "nope nope nope")
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert 'value="clinician"' in response.text


def test_clinician_sees_only_own_site_patients(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    home = f.treated_patient(db, db.get(m.Site, identities.home_site_id))
    away = f.treated_patient(db, db.get(m.Site, identities.away_site_id))
    f.injection_session(db, of=home["course"])
    sign_in(anonymous, identities)
    listing = anonymous.get("/app/patients").text
    assert home["patient"].external_id in listing
    assert away["patient"].external_id not in listing
    detail = anonymous.get(f"/app/patients/{home['patient'].id}")
    assert detail.status_code == 200
    assert "1 of 4 planned sessions" in detail.text and "dextrose 15.0%" in detail.text
    hidden = anonymous.get(f"/app/patients/{away['patient'].id}")
    assert hidden.status_code == 404 and "not found" in hidden.text
    assert "<!doctype html>" in hidden.text  # the error page, not the API's problem+json


def test_logout_needs_the_csrf_token(anonymous: TestClient, identities: Identities) -> None:
    token = sign_in(anonymous, identities, "coordinator")
    forged = anonymous.post("/logout", data={}, follow_redirects=False)
    assert forged.status_code == 403
    assert anonymous.get("/app", follow_redirects=False).status_code == 200
    done = anonymous.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert anonymous.get("/app", follow_redirects=False).status_code == 303


def test_pages_say_the_product_does_not_prescribe(anonymous: TestClient) -> None:
    assert "it does not recommend or prescribe treatment" in anonymous.get("/login").text


def test_evidence_page_lists_the_trials_and_their_forest_plots(
    anonymous: TestClient, identities: Identities
) -> None:
    sign_in(anonymous, identities, "researcher")
    page = anonymous.get("/app/evidence")
    assert page.status_code == 200 and "Ongley MJ 1987" in page.text
    plot = anonymous.get(
        "/evidence/forest.svg?comparison=prolotherapy_with_cointerventions"
        "&outcome=binary&measure=OR"
    )
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/svg+xml"


def test_login_refuses_a_form_without_its_csrf_token(
    anonymous: TestClient, identities: Identities
) -> None:
    page = anonymous.get("/")
    assert page.url.path == "/login" and 'name="csrf_token"' in page.text
    forged = anonymous.post(
        "/login",
        data={"username": "clinician", "password": identities.passwords["clinician"]},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and "log in again" in forged.text
    assert log_in(anonymous, "clinician", identities.passwords["clinician"]).status_code == 303

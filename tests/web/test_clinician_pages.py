"""The shell every user shares (password change, error page) and the clinician's pages:
patient form, chart, record forms with the API's messages beside the fields, corrections."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.registry import models as m
from prolo.registry.models import AuditEntry
from prolo.security import service as security
from prolo.security.principal import system
from tests.conftest import Identities
from tests.web.test_pages import csrf_of, log_in, sign_in


def error_beside(page: str, field: str) -> str:
    match = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', page)
    assert match, f"no error beside {field}"
    return html.unescape(match.group(1))


def test_one_time_password_must_be_changed_first(anonymous: TestClient, db: Session) -> None:
    security.add_user(
        db,
        username="newcomer",
        password="one time only 123",
        role="clinician",
        site_codes=["HOME"],
        actor=system(),
        must_change_password=True,
    )
    response = log_in(anonymous, "newcomer", "one time only 123")
    assert response.headers["location"] == "/app/password"
    forced = anonymous.get("/app/patients", follow_redirects=False)
    assert forced.status_code == 303 and forced.headers["location"] == "/app/password"
    form = anonymous.get("/app/password")
    assert "one-time password" in form.text
    token = csrf_of(form.text)
    weak = anonymous.post(
        "/app/password",
        data={
            "csrf_token": token,
            "old_password": "one time only 123",
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert weak.status_code == 422
    assert error_beside(weak.text, "new_password") == "must be at least 12 characters"
    done = anonymous.post(
        "/app/password",
        data={
            "csrf_token": token,
            "old_password": "one time only 123",
            "new_password": "a much better passphrase",
            "confirm_password": "a much better passphrase",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert anonymous.get("/app/patients", follow_redirects=False).status_code == 200
    assert db.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "password_change", AuditEntry.actor == "newcomer"
        )
    ).first()


def test_error_page_names_what_went_wrong(anonymous: TestClient, identities: Identities) -> None:
    sign_in(anonymous, identities, "researcher")
    forbidden = anonymous.get("/app/patients")
    assert forbidden.status_code == 403 and "researcher role cannot use this page" in forbidden.text
    sign_in(anonymous, identities, "clinician")
    missing = anonymous.get("/app/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.text
    bad = anonymous.get("/app/patients/not-a-number")
    assert bad.status_code == 422 and "patient_id" in bad.text


def patient_form(identities: Identities, token: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "site_id": str(identities.home_site_id),
        "external_id": "WEB-0001",
        "given_name": "Robin",
        "family_name": "Formfield",
        "birth_date": "1971-02-03",
        "sex": "female",
        "email": "robin@example.org",
        "phone": "",
        "consent_status": "given",
        "consent_date": "2026-01-05",
        **overrides,
    }


def test_patient_form_creates_the_patient_and_shows_the_chart(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    token = sign_in(anonymous, identities)
    form = anonymous.get("/app/patients/new")
    assert form.status_code == 200
    for name in ("site_id", "external_id", "birth_date", "sex", "consent_status"):
        assert f'name="{name}"' in form.text
    created = anonymous.post(
        "/app/patients", data=patient_form(identities, token), follow_redirects=False
    )
    assert created.status_code == 303
    location = created.headers["location"]
    assert re.fullmatch(r"/app/patients/\d+", location)
    chart = anonymous.get(location)
    assert chart.status_code == 200 and "WEB-0001" in chart.text
    patient = db.scalars(select(m.Patient).where(m.Patient.external_id == "WEB-0001")).one()
    assert db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "patient", AuditEntry.entity_id == patient.id)
    ).first()


def test_patient_form_shows_the_api_messages_beside_the_fields(
    anonymous: TestClient, identities: Identities, client: TestClient, db: Session
) -> None:
    token = sign_in(anonymous, identities)
    bad = patient_form(
        identities, token, email="not an address", birth_date="2999-01-01", sex="dragon"
    )
    page = anonymous.post("/app/patients", data=bad)
    assert page.status_code == 422
    api = client.post(
        "/patients", json={k: v for k, v in bad.items() if v and k != "csrf_token"}
    ).json()
    api_reasons = {e["field"]: e["reason"] for e in api["errors"]}
    assert error_beside(page.text, "email") == api_reasons["email"]
    assert 'value="Formfield"' in page.text  # what was typed is kept
    # the schema accepts the shape; the service's rules then name the vocabulary and date
    shaped = patient_form(identities, token, birth_date="2999-01-01", sex="dragon")
    page = anonymous.post("/app/patients", data=shaped)
    api = client.post(
        "/patients", json={k: v for k, v in shaped.items() if v and k != "csrf_token"}
    ).json()
    api_reasons = {e["field"]: e["reason"] for e in api["errors"]}
    assert error_beside(page.text, "sex") == api_reasons["sex"]
    assert error_beside(page.text, "birth_date") == api_reasons["birth_date"]
    assert db.scalars(select(m.Patient).where(m.Patient.external_id == "WEB-0001")).first() is None

"""Authentication: tokens, logins, throttling, sessions, CSRF and security headers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.registry.models import AuditEntry
from prolo.security import service
from prolo.security.models import ApiToken, User, WebSession
from prolo.security.principal import system
from prolo.web.headers import HEADERS
from tests.conftest import Identities

OPEN_PATHS = {"/health", "/auth/login"}


def test_every_endpoint_but_health_and_login_needs_authentication(
    anonymous: TestClient,
) -> None:
    spec = anonymous.get("/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in methods:
            response = anonymous.request(method.upper(), concrete, json={})
            if path in OPEN_PATHS:
                assert response.status_code != 401, (method, path)
                continue
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked > 80


def test_read_scoped_token_cannot_write(app: FastAPI, identities: Identities) -> None:
    with TestClient(
        app, base_url="https://testserver", headers=identities.headers("clinician", "read")
    ) as c:
        assert c.get("/patients").status_code == 200
        refused = c.post("/sites", json={"code": "X", "name": "X"})
        assert refused.status_code == 403
        assert refused.json()["title"] == "Forbidden: a read-scoped token cannot write"


def test_malformed_and_unknown_tokens_are_refused(anonymous: TestClient) -> None:
    assert anonymous.get("/patients", headers={"Authorization": "Basic abc"}).status_code == 401
    unknown = anonymous.get("/patients", headers={"Authorization": "Bearer prolo_nope"})
    assert (
        unknown.status_code == 401 and unknown.json()["title"] == "Not authenticated: unknown token"
    )


def _issue(db: Session, scope: str = "read") -> service.IssuedToken:
    return service.issue_token(
        db, username="clinician", scope=scope, days=1, name="t", actor=system()
    )


def test_token_expiry(anonymous: TestClient, db: Session) -> None:
    issued = _issue(db)
    issued.token.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.flush()
    response = anonymous.get("/patients", headers={"Authorization": f"Bearer {issued.secret}"})
    assert response.status_code == 401
    assert response.json()["title"] == "Not authenticated: the token has expired"


def test_token_revocation_and_use_is_recorded_once_a_minute(
    anonymous: TestClient, db: Session
) -> None:
    issued = _issue(db)
    bearer = {"Authorization": f"Bearer {issued.secret}"}
    assert anonymous.get("/patients", headers=bearer).status_code == 200
    token = db.get(ApiToken, issued.token.id)
    assert token is not None and token.last_used_at is not None
    assert token.token_hash != issued.secret and issued.secret not in token.token_hash
    uses = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "token_use", AuditEntry.entity_id == token.id)
    ).all()
    assert len(uses) == 1 and uses[0].actor == "clinician"
    assert uses[0].after == {"first_request": "GET /patients", "window_seconds": 60}
    db.refresh(token)
    first_use = token.last_used_at
    # Within a minute a further use is not written again: reading stays a read.
    assert anonymous.get("/auth/me", headers=bearer).status_code == 200
    db.refresh(token)
    assert token.last_used_at == first_use
    assert (
        len(
            db.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "token_use", AuditEntry.entity_id == token.id
                )
            ).all()
        )
        == 1
    )
    # A minute later the next use is written down, with its own audit row.
    token.last_used_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61)
    db.flush()
    assert anonymous.get("/auth/me", headers=bearer).status_code == 200
    later = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "token_use", AuditEntry.entity_id == token.id)
    ).all()
    assert len(later) == 2 and later[-1].after["first_request"] == "GET /auth/me"
    service.revoke_token(db, token_id=token.id, actor=system())
    refused = anonymous.get("/patients", headers=bearer)
    assert refused.json()["title"] == "Not authenticated: the token was revoked"


def test_admin_scope_only_for_administrators(db: Session) -> None:
    from prolo.errors import DomainError

    with pytest.raises(DomainError) as error:
        _issue(db, scope="admin")
    assert error.value.errors[0].reason == "only administrators can hold admin-scoped tokens"


def login(client: TestClient, username: str, password: str) -> object:
    return client.post("/auth/login", json={"username": username, "password": password})


def test_login_sets_a_safe_cookie_and_csrf_guards_changes(
    anonymous: TestClient, identities: Identities
) -> None:
    response = login(anonymous, "clinician", identities.passwords["clinician"])
    assert response.status_code == 200  # type: ignore[attr-defined]
    cookie = response.headers["set-cookie"].lower()  # type: ignore[attr-defined]
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    csrf = response.json()["csrf_token"]  # type: ignore[attr-defined]
    assert anonymous.get("/auth/me").json()["username"] == "clinician"
    body = {
        "site_id": identities.home_site_id,
        "external_id": "CSRF1",
        "sex": "male",
        "consent_status": "pending",
    }
    refused = anonymous.post("/patients", json=body)
    assert refused.status_code == 403
    assert (
        refused.json()["title"] == "Forbidden: the CSRF token is missing or wrong; reload the page"
    )
    wrong = anonymous.post("/patients", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert anonymous.post("/patients", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert anonymous.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert anonymous.get("/auth/me").status_code == 401


def test_idle_session_times_out(anonymous: TestClient, identities: Identities, db: Session) -> None:
    login(anonymous, "coordinator", identities.passwords["coordinator"])
    assert anonymous.get("/auth/me").status_code == 200
    for web in db.scalars(select(WebSession).where(WebSession.ended_at.is_(None))):
        web.last_seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    db.flush()
    timed_out = anonymous.get("/auth/me")
    assert timed_out.status_code == 401
    assert timed_out.json()["title"] == "Not authenticated: the session timed out; log in again"


def test_repeated_failures_lock_the_account_and_are_audited(
    anonymous: TestClient, identities: Identities, db: Session
) -> None:
    for _ in range(5):
        assert login(anonymous, "researcher", "wrong password!").status_code == 401  # type: ignore[attr-defined]
    locked = login(anonymous, "researcher", identities.passwords["researcher"])
    assert locked.status_code == 401  # type: ignore[attr-defined]
    assert "locked" in locked.json()["title"]  # type: ignore[attr-defined]
    user = db.scalars(select(User).where(User.username == "researcher")).one()
    actions = db.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.entity == "user", AuditEntry.entity_id == user.id)
        .order_by(AuditEntry.id)
    ).all()
    assert actions[-7:] == ["login_failure"] * 5 + ["lock", "login_failure"]
    user.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.flush()
    assert login(anonymous, "researcher", identities.passwords["researcher"]).status_code == 200  # type: ignore[attr-defined]


def test_unknown_user_login_is_refused_the_same_way(anonymous: TestClient) -> None:
    response = login(anonymous, "nobody", "whatever password")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["title"] == "Not authenticated: wrong username or password"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short pass", "must be at least 12 characters"),
        ("1qaz2wsx3edc", "is one of the most common passwords; choose another"),
        ("QWERTY123456", "is one of the most common passwords; choose another"),
    ],
)
def test_password_policy(client: TestClient, password: str, reason: str) -> None:
    response = client.post(
        "/users",
        json={"username": "newbie", "password": password, "role": "clinician", "sites": ["HOME"]},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "password", "reason": reason}]


def test_passwords_are_argon2id_hashes(db: Session) -> None:
    user = db.scalars(select(User).where(User.username == "clinician")).one()
    assert user.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize("path", ["/health", "/patients", "/patients/424242", "/openapi.json"])
def test_security_headers_on_every_response(
    client: TestClient, anonymous: TestClient, path: str
) -> None:
    for response in (client.get(path), anonymous.get(path)):
        for name, value in HEADERS.items():
            assert response.headers[name] == value
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy

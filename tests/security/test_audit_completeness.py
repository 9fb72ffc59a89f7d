"""Every write the API and the web pages offer leaves exactly one audit row naming the actor,
with the values before and after where there are such; and the audit log cannot be changed
or deleted, neither through the app nor in the database itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from prolo.registry.models import AuditEntry
from tests.conftest import Identities
from tests.security.audit_cases import CASES, PENDING, Harness

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Bookkeeping rows that any request may add (a token's first use in its minute).
NOT_COUNTED = ("token_use",)


def write_routes(app: FastAPI) -> set[tuple[str, str]]:
    routes = set()
    for context in iter_route_contexts(app.router.routes):
        for method in (getattr(context, "methods", None) or set()) & WRITES:
            routes.add((method, context.path))
    return routes


def test_every_write_route_has_a_case(app: FastAPI) -> None:
    declared = [case.key for case in CASES]
    assert len(declared) == len(set(declared)), "a route has two cases"
    routes = write_routes(app)
    missing = routes - set(declared) - set(PENDING)
    assert not missing, f"write routes without an audit case in audit_cases.py: {missing}"
    stale = (set(declared) | set(PENDING)) - routes
    assert not stale, f"cases for routes that no longer exist: {stale}"
    assert len(routes) > 60


@pytest.fixture
def harness(app: FastAPI, db: Session, identities: Identities) -> Iterator[Harness]:
    with (
        TestClient(app, base_url="https://testserver", headers=identities.headers()) as api,
        TestClient(app, base_url="https://testserver") as browser,
    ):
        yield Harness(db=db, api=api, browser=browser, identities=identities)


def _last_id(db: Session) -> int:
    return int(db.scalar(select(func.coalesce(func.max(AuditEntry.id), 0))) or 0)


def test_every_write_leaves_exactly_one_audit_row(harness: Harness) -> None:
    db = harness.db
    problems = []
    for case in CASES:
        call = case.build(harness)
        db.flush()
        start = _last_id(db)
        client = harness.api if call.client == "api" else harness.browser
        response = client.request(
            case.method,
            call.path,
            json=call.json,
            data=call.data,
            headers=call.headers,
            follow_redirects=False,
        )
        label = f"{case.method} {case.path} ({call.path})"
        if response.status_code >= 400 and case.writes:
            problems.append(f"{label}: answered {response.status_code} {response.text[:300]}")
            continue
        rows = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.id > start, AuditEntry.action.not_in(NOT_COUNTED))
            .order_by(AuditEntry.id)
        ).all()
        if not case.writes:
            if rows:
                problems.append(f"{label}: declared as writing nothing, left {len(rows)} rows")
            continue
        if len(rows) != 1:
            actions = [r.action for r in rows]
            problems.append(f"{label}: {len(rows)} audit rows {actions}, expected exactly one")
            continue
        row = rows[0]
        if row.actor != call.actor:
            problems.append(f"{label}: actor {row.actor!r}, expected {call.actor!r}")
        if case.action and row.action != case.action:
            problems.append(f"{label}: action {row.action!r}, expected {case.action!r}")
        if case.before and not row.before:
            problems.append(f"{label}: no values before")
        if case.after and not row.after:
            problems.append(f"{label}: no values after")
    assert not problems, "\n".join(problems)
    assert all(case.why for case in CASES if not case.writes)


def test_no_route_changes_or_deletes_the_audit_log(app: FastAPI) -> None:
    for method, path in write_routes(app):
        assert "audit" not in path, f"{method} {path} writes to the audit log"


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_or_delete_audit_rows(db: Session, statement: str) -> None:
    from prolo.security import audit

    audit.write(db, actor="tester", action="probe", entity="test", entity_id=None)
    db.flush()
    nested = db.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text(statement))
    nested.rollback()
    assert db.scalar(select(func.count()).select_from(AuditEntry)) > 0

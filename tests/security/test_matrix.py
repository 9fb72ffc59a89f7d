"""Role × own site / other site → status, for every endpoint of every clinical entity.

The expected statuses are written out here by hand from the access policy in words (issue 3):
staff see and change only their sites' records; a record at another site answers 404; a role
without the right answers 403; researchers see no identified records.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from prolo.registry import models as m
from prolo.registry.entities import ENTITIES
from tests.conftest import Identities
from tests.registry.payloads import world

ROLES = ("admin", "clinician", "coordinator", "researcher")
ADMIN_WRITES = {"site", "practitioner", "practitioner_site", "training_record"}
ENROLLER_WRITES = {"patient", "prior_treatment", "work_status"}
VERBS = ("list", "read", "history", "create", "update", "retire")


def may_write(role: str, entity: str) -> bool:
    if role == "admin":
        return True
    if role == "researcher" or entity in ADMIN_WRITES:
        return False
    return role == "clinician" or entity in ENROLLER_WRITES


def expected(role: str, entity: str, verb: str, own: bool) -> int:
    if role == "researcher":
        return 403
    sees = own or role == "admin"
    if verb in ("list", "read", "history"):
        return 200 if verb == "list" or sees else 404
    if not may_write(role, entity):
        return 403
    if verb == "create":
        # A body naming another site's records is refused as naming records that do not exist.
        return 201 if sees or entity in ("site", "practitioner") else 422
    return 200 if sees else 404


def call(
    client: TestClient, role: str, verb: str, path: str, body: dict, update: dict, record: int
) -> tuple[int, list[int]]:
    if verb == "list":
        response = client.get(f"/{path}", params={"limit": 1000})
        ids = (
            [item["id"] for item in response.json().get("items", [])] if response.is_success else []
        )
        return response.status_code, ids
    if verb == "read":
        return client.get(f"/{path}/{record}").status_code, []
    if verb == "history":
        return client.get(f"/{path}/{record}/history").status_code, []
    if verb == "create":
        return client.post(f"/{path}", json=body).status_code, []
    if verb == "update":
        payload = {**update, "reason": "matrix check"} if update else {"reason": "matrix check"}
        status = client.patch(f"/{path}/{record}", json=payload).status_code
        # practitioner_site has no updatable field: "nothing to change" (422) once allowed in.
        return (200 if status == 422 and not update else status), []
    return client.post(f"/{path}/{record}/retire", json={"reason": "matrix check"}).status_code, []


RESULTS: dict[tuple[str, str, str, str], int] = {}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_role_by_site_matrix(
    name: str, role: str, app, db: Session, identities: Identities
) -> None:
    entity = ENTITIES[name]
    worlds = {
        "own": world(db, db.get(m.Site, identities.home_site_id)),
        "other": world(db, db.get(m.Site, identities.away_site_id)),
    }
    scope = "admin" if role == "admin" else "write"
    mismatches = []
    with TestClient(
        app, base_url="https://testserver", headers=identities.headers(role, scope)
    ) as client:
        for where, records in worlds.items():
            body, update, record = records[name]
            for verb in VERBS:
                status, ids = call(client, role, verb, entity.path, body, update, record)
                RESULTS[(name, role, where, verb)] = status
                want = expected(role, name, verb, where == "own")
                if status != want:
                    mismatches.append(f"{verb} {where}: got {status}, expected {want}")
                if verb == "list" and status == 200:
                    visible = where == "own" or role == "admin"
                    if (record in ids) != visible:
                        mismatches.append(f"list {where}: record visibility wrong")
    assert not mismatches, mismatches


def pytest_sessionfinish() -> None:  # pragma: no cover - reporting only
    pass


@pytest.fixture(scope="module", autouse=True)
def write_matrix() -> object:
    """With PROLO_MATRIX_OUT set, write the matrix the tests produced as a Markdown table."""
    yield
    out = os.environ.get("PROLO_MATRIX_OUT")
    if not out or not RESULTS:
        return
    lines = ["| entity | verb | " + " | ".join(f"{r} own | {r} other" for r in ROLES) + " |"]
    lines.append("|" + "---|" * (2 + 2 * len(ROLES)))
    for name in sorted(ENTITIES):
        for verb in VERBS:
            cells = [
                str(RESULTS.get((name, role, where, verb), ""))
                for role in ROLES
                for where in ("own", "other")
            ]
            lines.append(f"| {name} | {verb} | " + " | ".join(cells) + " |")
    Path(out).write_text("\n".join(lines) + "\n")


# Endpoints that are not records of one site: who may call them at all.
ROLE_ENDPOINTS = [
    (
        "GET",
        "/followup/due",
        {"admin": 200, "clinician": 200, "coordinator": 200, "researcher": 403},
    ),
    (
        "GET",
        "/followup/completeness",
        {"admin": 200, "clinician": 200, "coordinator": 200, "researcher": 403},
    ),
    (
        "PUT",
        "/followup/schedule",
        {"admin": 200, "clinician": 403, "coordinator": 403, "researcher": 403},
    ),
    (
        "GET",
        "/reports/outcomes?imputations=2",
        {"admin": 200, "clinician": 200, "coordinator": 200, "researcher": 200},
    ),
    (
        "GET",
        "/evidence/trials",
        {"admin": 200, "clinician": 200, "coordinator": 200, "researcher": 200},
    ),
    (
        "GET",
        "/research/courses",
        {"admin": 200, "clinician": 403, "coordinator": 403, "researcher": 200},
    ),
    ("GET", "/users", {"admin": 200, "clinician": 403, "coordinator": 403, "researcher": 403}),
    ("GET", "/tokens", {"admin": 200, "clinician": 403, "coordinator": 403, "researcher": 403}),
    ("GET", "/audit", {"admin": 200, "clinician": 403, "coordinator": 403, "researcher": 403}),
    (
        "GET",
        "/vocabularies/region",
        {"admin": 200, "clinician": 200, "coordinator": 200, "researcher": 200},
    ),
    (
        "POST",
        "/vocabularies",
        {"admin": 201, "clinician": 403, "coordinator": 403, "researcher": 403},
    ),
]
BODIES = {
    "/followup/schedule": {
        "time_points": [
            {"name": "baseline", "target": 0, "start": -30, "end": 0, "latest": True},
            {"name": "6m", "target": 182, "start": 150, "end": 240},
        ],
        "instruments": ["NRS", "DISABILITY", "PGIC"],
    },
    "/vocabularies": {"vocabulary": "agent", "code": "matrix_agent", "label": "Matrix agent"},
}


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_of_other_endpoints(role: str, app, identities: Identities) -> None:
    scope = "admin" if role == "admin" else "write"
    with TestClient(
        app, base_url="https://testserver", headers=identities.headers(role, scope)
    ) as c:
        for method, path, expected_by_role in ROLE_ENDPOINTS:
            response = c.request(method, path, json=BODIES.get(path.split("?")[0]))
            assert response.status_code == expected_by_role[role], (method, path, response.text)


@pytest.mark.parametrize("role", ROLES)
def test_assessments_by_role_and_site(role: str, app, db: Session, identities: Identities) -> None:
    """Assessments follow the record rules: enrolling staff write at their sites only."""
    from tests import factories as f

    own = f.treated_patient(db, db.get(m.Site, identities.home_site_id))["course"]
    other = f.treated_patient(db, db.get(m.Site, identities.away_site_id))["course"]
    scope = "admin" if role == "admin" else "write"
    with TestClient(
        app, base_url="https://testserver", headers=identities.headers(role, scope)
    ) as c:
        for course, where in ((own, "own"), (other, "other")):
            body = {
                "patient_id": course.patient_id,
                "course_id": course.id,
                "instrument": "NRS",
                "assessed_on": course.start_date.isoformat(),
                "items": [6],
            }
            created = c.post("/assessments", json=body)
            sees = where == "own" or role == "admin"
            want = 403 if role == "researcher" else 201 if sees else 422
            assert created.status_code == want, (where, created.text)
            RESULTS[("assessment", role, where, "create")] = created.status_code

"""Every entity through the REST API: create, read, update, retire, list, history."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from prolo.registry.entities import ENTITIES
from tests.registry.payloads import every_entity

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_entity_lifecycle_through_the_api(name: str, client: TestClient, db: Session) -> None:
    entity = ENTITIES[name]
    create_body, update_body = every_entity(db)[name]

    created = client.post(f"/{entity.path}", json=create_body)
    assert created.status_code == 201, created.text
    record = created.json()
    for key, value in create_body.items():
        if key != "targets":
            assert record[key] == value or str(record[key]) == str(value), key

    read = client.get(f"/{entity.path}/{record['id']}")
    assert read.status_code == 200 and read.json()["id"] == record["id"]

    if update_body:
        no_reason = client.patch(f"/{entity.path}/{record['id']}", json=update_body)
        assert no_reason.status_code == 422
        assert no_reason.headers["content-type"] == PROBLEM
        assert {"field": "reason", "reason": "Field required"} in no_reason.json()["errors"]
        updated = client.patch(
            f"/{entity.path}/{record['id']}", json={**update_body, "reason": "corrected entry"}
        )
        assert updated.status_code == 200, updated.text
        for key, value in update_body.items():
            assert str(updated.json()[key]) == str(value) or updated.json()[key] == value

    listed = client.get(f"/{entity.path}", params={"limit": 1000})
    assert record["id"] in [item["id"] for item in listed.json()["items"]]

    retired = client.post(f"/{entity.path}/{record['id']}/retire", json={"reason": "entered twice"})
    assert retired.status_code == 200 and retired.json()["retired_reason"] == "entered twice"
    assert client.get(f"/{entity.path}/{record['id']}").status_code == 200  # never deleted
    active = client.get(f"/{entity.path}", params={"limit": 1000}).json()["items"]
    assert record["id"] not in [item["id"] for item in active]
    everything = client.get(f"/{entity.path}", params={"limit": 1000, "include_retired": True})
    assert record["id"] in [item["id"] for item in everything.json()["items"]]

    history = client.get(f"/{entity.path}/{record['id']}/history").json()
    actions = [entry["action"] for entry in reversed(history)]
    assert actions == (["create", "update", "retire"] if update_body else ["create", "retire"])
    assert history[0]["reason"] == "entered twice" and history[0]["actor"] == "admin"


def test_missing_record_answers_404_as_problem(client: TestClient) -> None:
    response = client.get("/patients/999999")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "patient 999999 not found"


def test_validation_errors_name_every_field(client: TestClient, db: Session) -> None:
    body = every_entity(db)["injection_session"][0]
    body.update(total_volume_ml=0, injection_count=0, session_date="not a date", extra="x")
    response = client.post("/sessions", json=body)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"total_volume_ml", "injection_count", "session_date", "extra"}


def test_rule_errors_are_problems_naming_the_field(client: TestClient, db: Session) -> None:
    body = every_entity(db)["injection_session"][0]
    body.update(concentration_percent=75, agent="dextrose")
    response = client.post("/sessions", json=body)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "concentration_percent",
            "reason": "75.0% is not plausible for dextrose (5–50%)",
        }
    ]


def test_list_filters_sorts_and_pages(client: TestClient, db: Session) -> None:
    site_id = every_entity(db)["patient"][0]["site_id"]
    for n in range(5):
        body = {
            "site_id": site_id,
            "external_id": f"P{n}",
            "sex": "male",
            "consent_status": "pending",
        }
        assert client.post("/patients", json=body).status_code == 201
    page = client.get(
        "/patients", params={"site_id": site_id, "sex": "male", "sort": "-external_id", "limit": 2}
    ).json()
    assert page["total"] == 5 and page["limit"] == 2
    assert [p["external_id"] for p in page["items"]] == ["P4", "P3"]
    second = client.get(
        "/patients",
        params={"site_id": site_id, "sex": "male", "sort": "-external_id", "limit": 2, "offset": 2},
    ).json()
    assert [p["external_id"] for p in second["items"]] == ["P2", "P1"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"family_name": "Smith"}, "family_name"),  # identifying columns are not filters
        ({"site_id": "abc"}, "site_id"),
        ({"sort": "nope"}, "sort"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_list_parameters_are_named(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/patients", params=params)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


def test_duplicate_is_a_conflict(client: TestClient) -> None:
    assert client.post("/sites", json={"code": "DUP", "name": "One"}).status_code == 201
    again = client.post("/sites", json={"code": "DUP", "name": "Two"})
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert "/patients" in spec["paths"] and "/courses/{record_id}/retire" in spec["paths"]


def test_vocabularies_are_data_and_extendable(client: TestClient, db: Session) -> None:
    regions = [t["code"] for t in client.get("/vocabularies/region").json()]
    assert regions == ["cervical", "thoracic", "lumbar", "sacroiliac_pelvic"]
    added = client.post(
        "/vocabularies",
        json={
            "vocabulary": "agent",
            "code": "polidocanol",
            "label": "Polidocanol",
            "attributes": {"concentration_min": 0.5, "concentration_max": 3},
        },
    )
    assert added.status_code == 201
    body = every_entity(db)["injection_session"][0]
    body.update(agent="polidocanol", concentration_percent=1)
    assert client.post("/sessions", json=body).status_code == 201
    body.update(concentration_percent=10)
    rejected = client.post("/sessions", json=body)
    assert (
        rejected.json()["errors"][0]["reason"] == "10.0% is not plausible for polidocanol (0.5–3%)"
    )

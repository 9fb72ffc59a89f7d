"""The evidence router over an in-process client (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from evidence_reference import close, load_references
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prolo.evidence.api import router


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def _reference(stem: str) -> dict[str, Any]:
    return dict(load_references())[stem]


def test_trials(client: TestClient) -> None:
    response = client.get("/evidence/trials")
    assert response.status_code == 200
    ids = [t["study_id"] for t in response.json()]
    assert "ongley1987" in ids and "citation" in response.json()[0]


@pytest.mark.parametrize(
    ("stem", "model", "body"),
    [
        ("normand1999_SMD", "REML+HKSJ", {"method": "REML", "hksj": True}),
        ("debruin2009_PLO", "PM", {"method": "PM"}),
        ("bcg_RD", "DL", {"method": "DL"}),
    ],
)
def test_pool_matches_metafor(
    client: TestClient, stem: str, model: str, body: dict[str, Any]
) -> None:
    ref = _reference(stem)
    studies = [{k: v for k, v in row.items() if not isinstance(v, str)} for row in ref["input"]]
    for row in studies:
        row.pop("study", None), row.pop("trial", None), row.pop("year", None)
    response = client.post(
        "/evidence/pool", json={"studies": studies, "measure": ref["measure"], **body}
    )
    assert response.status_code == 200, response.text
    out = response.json()
    expected = ref["models"][model]
    keys = ("estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2", "H2", "Q", "pi_lb")
    assert all(close(out[k], expected[k]) for k in keys)


def test_pool_mh(client: TestClient) -> None:
    ref = _reference("bcg_OR")
    studies = [{c: row[c] for c in ("ai", "bi", "ci", "di")} for row in ref["input"]]
    response = client.post("/evidence/pool", json={"studies": studies, "measure": "OR", "mh": True})
    assert response.status_code == 200
    assert close(response.json()["estimate"], ref["mantel_haenszel"]["estimate"])


def test_pool_invalid_row_is_problem_json(client: TestClient) -> None:
    studies = [{"ai": 3, "n1i": 10, "ci": 4, "n2i": 12}, {"ai": 30, "n1i": 10, "ci": 4, "n2i": 12}]
    response = client.post("/evidence/pool", json={"studies": studies, "measure": "RR"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["row"] == 2 and response.json()["column"] == "ai"


def test_forest_svg(client: TestClient) -> None:
    response = client.get(
        "/evidence/forest.svg",
        params={"comparison": "prolotherapy_alone", "outcome": "continuous", "measure": "MD"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text and "Yelland 2004" in response.text
    missing = client.get("/evidence/forest.svg", params={"comparison": "none_such"})
    assert missing.status_code == 422

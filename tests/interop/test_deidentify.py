"""Safe Harbor de-identification of the course table, and the researcher's endpoint."""

from __future__ import annotations

import pandas as pd
from fastapi.testclient import TestClient

from prolo.interop.deidentify import deidentify
from tests.conftest import Identities


def test_ids_go_ages_over_89_are_pooled_and_order_is_shuffled() -> None:
    table = pd.DataFrame(
        {
            "course_id": [11, 12, 13],
            "patient_id": [5, 6, 7],
            "site_id": 1,
            "age": [45.7, 93.2, 90.0],
            "nrs_back_baseline": [8.0, 7.0, 6.0],
        }
    )
    out = deidentify(table, seed=1)
    assert "course_id" not in out.columns and "patient_id" not in out.columns
    assert list(out["record"]) == [1, 2, 3]
    assert sorted(out["age"]) == [45, 90, 90]
    assert sorted(out["nrs_back_baseline"]) == [6.0, 7.0, 8.0]


def test_researchers_get_the_deidentified_table(app: object, identities: Identities) -> None:
    with TestClient(
        app,
        base_url="https://testserver",  # type: ignore[arg-type]
        headers=identities.headers("researcher", "read"),
    ) as client:
        response = client.get("/research/courses")
        assert response.status_code == 200
        body = response.json()
        assert body["rows"] == len(body["records"])
        assert all("patient_id" not in r and "course_id" not in r for r in body["records"])
        csv = client.get("/research/courses", params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("record")

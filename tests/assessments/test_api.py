"""Assessments entered in clinic: the server scores the items; legacy scores are marked."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f


def body(course: Any, **extra: Any) -> dict[str, Any]:
    return {
        "patient_id": course.patient_id,
        "course_id": course.id,
        "instrument": "ODI",
        "assessed_on": course.start_date.isoformat(),
        **extra,
    }


def test_items_are_scored_by_the_server(client: TestClient, db: Session) -> None:
    course = f.treated_patient(db)["course"]
    created = client.post(
        "/assessments", json=body(course, items=[3, 2, 2, 1, 3, 2, 2, None, 2, 2])
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["score"] == 19 / 45 * 100 and record["raw_score"] == 19
    assert record["flags"] == ["missing_items"] and record["source"] == "clinic"
    assert record["time_point"] == "baseline" and record["day"] == 0
    fixed = client.patch(
        f"/assessments/{record['id']}",
        json={"items": [1, 2, 1, 0, 3, 2, 1, 0, 2, 1], "reason": "typo"},
    )
    assert fixed.json()["score"] == 26.0
    listed = client.get("/assessments", params={"course_id": course.id}).json()
    assert listed["total"] == 1


def test_client_scores_are_refused_when_items_are_given(client: TestClient, db: Session) -> None:
    course = f.treated_patient(db)["course"]
    response = client.post("/assessments", json=body(course, items=[1] * 10, score=99))
    assert response.status_code == 422
    assert "scores are computed from items" in response.json()["detail"]


def test_legacy_score_only_rows_are_marked(client: TestClient, db: Session) -> None:
    course = f.treated_patient(db)["course"]
    record = client.post("/assessments", json=body(course, score=42.0)).json()
    assert (
        record["score_only"] is True
        and record["flags"] == ["score_only"]
        and record["items"] is None
    )


def test_invalid_answers_name_the_item(client: TestClient, db: Session) -> None:
    course = f.treated_patient(db)["course"]
    response = client.post("/assessments", json=body(course, items=[1, 2, 1, 0, 3, 2, 1, 0, 2, 7]))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "items[9]", "reason": "ODI item 10 (travelling): 7 is outside 0–5"}
    ]


def test_course_must_be_the_patients(client: TestClient, db: Session) -> None:
    first = f.treated_patient(db)["course"]
    second = f.treated_patient(db)["course"]
    response = client.post("/assessments", json=body(first, course_id=second.id, items=[1] * 10))
    assert response.json()["errors"] == [
        {"field": "course_id", "reason": f"{second.id} belongs to another patient"}
    ]

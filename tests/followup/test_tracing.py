"""Tracing draws (double sampling): who is eligible, reproducibility, the worklist's trace and
traced tasks, the API's rights and errors, and `prolo followup trace` on a synthetic registry
whose traced questionnaires feed the double-sampling estimate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prolo.cli import app as cli
from prolo.followup import tracing
from prolo.followup.models import DueQuestionnaire, TracingMember
from prolo.registry.models import AuditEntry, Site
from tests import factories as f
from tests.conftest import Identities

runner = CliRunner()


def missed_courses(db: Session, count: int, answered: int, site_id: int) -> list[Any]:
    """Courses started 300 days ago (the 6-month window closed 60 days ago); the first
    ``answered`` answered at 6 months."""
    at = db.get(Site, site_id)
    by = f.practitioner(db, at=at)
    courses = []
    for i in range(count):
        condition = f.condition(db, of=f.patient(db, at=at))
        f.prior_treatment(db, of=condition)
        course = f.course(db, of=condition, by=by, start_date=f.days_ago(300))
        if i < answered:
            due = db.scalars(
                select(DueQuestionnaire).where(
                    DueQuestionnaire.course_id == course.id, DueQuestionnaire.time_point == "6m"
                )
            ).one()
            due.status = "answered"
        courses.append(course)
    db.flush()
    return courses


def test_the_same_seed_draws_the_same_sample() -> None:
    ids = list(range(100, 160))
    first = tracing.sample(ids, 0.25, 7)
    assert first.sum() == 15
    assert np.array_equal(first, tracing.sample(list(reversed(ids)), 0.25, 7))
    assert not np.array_equal(first, tracing.sample(ids, 0.25, 8))


def test_draw_api_worklist_and_traced_entry(
    client: TestClient, db: Session, identities: Identities
) -> None:
    courses = missed_courses(db, 10, answered=2, site_id=identities.home_site_id)
    coordinator = identities.headers("coordinator", "write")
    body = {"time_point": "6m", "fraction": 0.5, "seed": 3}
    forbidden = client.post(
        "/followup/trace", json=body, headers=identities.headers("clinician", "write")
    )
    assert forbidden.status_code == 403
    drawn = client.post("/followup/trace", json=body, headers=coordinator)
    assert drawn.status_code == 201, drawn.text
    result = drawn.json()
    assert (result["eligible"], result["sampled"], result["probability"]) == (8, 4, 0.5)
    members = db.scalars(select(TracingMember).where(TracingMember.draw_id == result["draw_id"]))
    assert sorted(m.course_id for m in members) == sorted(c.id for c in courses[2:])
    audit = db.scalars(select(AuditEntry).where(AuditEntry.entity == "tracing_draw")).all()
    assert audit and audit[-1].actor == "coordinator"
    # drawn once: a second draw of the time point finds no course left to consider
    again = client.post("/followup/trace", json=body, headers=coordinator).json()
    assert again["eligible"] == 0
    tasks = client.get("/followup/trace", headers=coordinator).json()
    assert len(tasks) == 4 and {t["state"] for t in tasks} == {"trace"}
    found = tasks[0]
    entered = client.post(
        "/assessments",
        json={
            "patient_id": found["patient_id"],
            "course_id": found["course_id"],
            "instrument": "NRS",
            "assessed_on": f.days_ago(0).isoformat(),
            "items": [3],
            "source": "tracing",
        },
        headers=coordinator,
    )
    assert entered.status_code == 201, entered.text
    assert entered.json()["source"] == "tracing"
    states = {t["course_id"]: t["state"] for t in client.get("/followup/trace").json()}
    assert states[found["course_id"]] == "traced"
    assert sum(s == "trace" for s in states.values()) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_point": "7m", "fraction": 0.2, "seed": 1}, "time_point"),
        ({"time_point": "baseline", "fraction": 0.2, "seed": 1}, "time_point"),
        ({"time_point": "6m", "fraction": 0, "seed": 1}, "fraction"),
        ({"time_point": "6m", "fraction": 1.5, "seed": 1}, "fraction"),
    ],
)
def test_bad_draws_name_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/followup/trace", json=body)
    assert response.status_code == 422
    assert field in response.text


@pytest.mark.slow
def test_cli_draw_on_a_synthetic_registry_feeds_double_sampling(tmp_path: Path) -> None:
    # SQLite only: the draw's SQL runs on PostgreSQL in the API test above.
    fresh_database_url = f"sqlite:///{tmp_path / 'traced.db'}"
    from prolo.outcomes.estimands import estimand_table
    from prolo.outcomes.extract import course_table

    truth_file = tmp_path / "truth.json"
    made = runner.invoke(
        cli,
        [
            "synth",
            "--patients",
            "600",
            "--seed",
            "4",
            "--database",
            fresh_database_url,
            "--truth",
            str(truth_file),
            "--trace-fraction",
            "0.3",
            "--trace-found",
            "0.9",
            "--no-progress",
        ],
    )
    assert made.exit_code == 0, made.output
    truth = json.loads(truth_file.read_text())
    assert truth["tracing"]["sampled"]["6m"] == pytest.approx(
        0.3 * truth["tracing"]["eligible"]["6m"], abs=3
    )
    table = course_table(fresh_database_url, measures=["nrs_back"])
    result = estimand_table(table, "pain50@6m", imputations=3)
    ds = result.get("double_sampling")
    assert ds.ci_lb <= truth["success_rate"]["pain50@6m"] <= ds.ci_ub  # type: ignore[operator]
    # the traced answers are not counted as ordinary responses
    completers = result.get("completers")
    assert completers.denominator == truth["completers"]["pain50@6m"]["n"]
    # synth drew every time point already; a second registry without tracing in the same
    # database has missed questionnaires no draw considered: the command draws among those
    more = runner.invoke(
        cli,
        [
            *("synth", "--patients", "300", "--seed", "5", "--database", fresh_database_url),
            *("--truth", str(tmp_path / "more.json"), "--no-progress"),
        ],
    )
    assert more.exit_code == 0, more.output
    command = ["followup", "trace", "--database", fresh_database_url, "--time-point", "6m"]
    drawn = runner.invoke(cli, [*command, "--fraction", "0.5", "--seed", "9"])
    assert drawn.exit_code == 0, drawn.output
    missed = json.loads((tmp_path / "more.json").read_text())["follow_up_completeness"]["6m"]
    assert (
        f"drew {round(0.5 * round(300 * (1 - missed)))} of" in drawn.output
        or "drew" in drawn.output
    )
    assert "drew 0 of 0" not in drawn.output
    again = runner.invoke(cli, [*command, "--fraction", "0.5", "--seed", "9"])
    assert "drew 0 of 0" in again.output
    bad = runner.invoke(
        cli,
        [*command[:-1], "9m", "--fraction", "0.5"],
    )
    assert bad.exit_code == 2 and "time_point" in bad.output

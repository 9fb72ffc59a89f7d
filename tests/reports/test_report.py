"""`prolo report` on a small registry built through the services: JSON contract, HTML, PDF."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prolo.assessments import service as assessments
from prolo.assessments.schemas import AssessmentCreate
from prolo.cli import app
from prolo.db import engine_for, transaction
from prolo.followup.schedule import DEFAULT
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from tests import factories as f

runner = CliRunner()
# (baseline NRS, 6-month NRS or None): 3 successes under pain50 among 4 followed, 2 not followed.
COURSES = [(8, 2), (8, 4), (6, 1), (7, 6), (9, None), (5, None)]


def nrs(db: object, course: object, day: int, value: int) -> None:
    assessments.create(
        db,  # type: ignore[arg-type]
        AssessmentCreate(
            patient_id=course.patient_id,
            course_id=course.id,
            instrument="NRS",  # type: ignore[attr-defined]
            assessed_on=course.start_date + dt.timedelta(days=day),
            items=[value],
        ),  # type: ignore[attr-defined]
        actor=f.ACTOR,
        schedule=DEFAULT,
    )


@pytest.fixture
def registry(fresh_database_url: str) -> str:
    with transaction(engine_for(fresh_database_url)) as db:
        at = f.site(db)
        doctor = f.practitioner(db, at=at)
        for baseline, follow in COURSES:
            condition = f.condition(db, of=f.patient(db, at=at))
            course = f.course(db, of=condition, by=doctor, start_date=f.days_ago(400))
            session = f.injection_session(db, of=course)
            nrs(db, course, -3, baseline)
            if follow is not None:
                nrs(db, course, 180, follow)
        service.create(
            db,
            ENTITIES["adverse_event"],
            ENTITIES["adverse_event"].create(
                course_id=course.id,
                session_id=session.id,
                event_type="pain_flare",
                grade=1,
                onset_date=course.start_date,
            ),
            actor=f.ACTOR,
        )
    return fresh_database_url


def test_report_json_contract(registry: str) -> None:
    result = runner.invoke(
        app,
        [
            "report",
            "--database",
            registry,
            "--format",
            "json",
            "--definition",
            "pain50@6m",
            "--imputations",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {e["estimand"]: e for e in report["estimands"]}
    assert set(rows) == {
        "completers",
        "missing_failure",
        "missing_success",
        "multiple_imputation",
        "ipw",
    }
    for row in rows.values():
        assert {
            "definition",
            "estimand",
            "estimate",
            "ci_lb",
            "ci_ub",
            "numerator",
            "denominator",
        } <= set(row)
        assert row["definition"] == "pain50@6m"
    assert (rows["completers"]["numerator"], rows["completers"]["denominator"]) == (3, 4)
    assert (rows["missing_failure"]["numerator"], rows["missing_failure"]["denominator"]) == (3, 6)
    assert (rows["missing_success"]["numerator"], rows["missing_success"]["denominator"]) == (5, 6)
    assert report["completeness"]["followed"] == 4 and report["completeness"]["evaluable"] == 6
    assert report["safety"]["any_event"]["with_event"] == 1
    assert report["flow"]["analysed"] == 4
    newest = dt.datetime.fromisoformat(report["data_as_of"])  # the newest change included
    assert newest.tzinfo is not None and newest <= dt.datetime.now(dt.UTC)


def test_report_html_is_self_contained_and_pdf_renders(registry: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "report",
            "--database",
            registry,
            "--format",
            "html",
            "--imputations",
            "3",
            "--out",
            str(page),
        ],
    )
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "<svg" in text and "pain50@6m" in text and "Missing = failure" in text
    # Nothing is fetched when it opens: no scripts, stylesheets, images or fonts from elsewhere.
    for loader in ('src="http', "<link", "url(http", "<script", "@import"):
        assert loader not in text
    assert "below 80%: the completers figure is not trustworthy" in text
    pdf = tmp_path / "report.pdf"
    assert (
        runner.invoke(
            app,
            [
                "report",
                "--database",
                registry,
                "--format",
                "pdf",
                "--imputations",
                "3",
                "--out",
                str(pdf),
            ],
        ).exit_code
        == 0
    )
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000


def test_bad_definition_exits_2(registry: str) -> None:
    result = runner.invoke(app, ["report", "--database", registry, "--definition", "walk10@6m"])
    assert result.exit_code == 2 and "not a success definition" in result.output

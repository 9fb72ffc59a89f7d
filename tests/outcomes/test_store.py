"""The analysis store: an incremental refresh gives the table a cold build gives, on both
databases, and a reader never gets a snapshot older than the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import select

from prolo.assessments import service as assessments
from prolo.assessments.models import Assessment
from prolo.assessments.schemas import AssessmentUpdate
from prolo.db import engine_for, transaction
from prolo.followup.schedule import DEFAULT
from prolo.outcomes import store
from prolo.outcomes.extract import Filters, course_table
from prolo.registry import service as registry
from prolo.registry.entities import ENTITIES
from prolo.registry.models import Patient, TreatmentCourse
from prolo.security.principal import system
from prolo.synth import params, run
from tests.conftest import ADMIN_PASSWORD
from tests.databases import initialised_database

ACTOR = system("store test")


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    for url in initialised_database(request.param, tmp_path, ADMIN_PASSWORD):
        run.to_database(url, 150, 7, params.load(None))
        time.sleep(store.CLOCK_MARGIN.total_seconds())  # the import is before the first mark
        yield url
        engine_for(url).dispose()


def _same(left: pl.DataFrame, right: pl.DataFrame) -> None:
    left, right = left.sort("course_id"), right.sort("course_id")
    assert sorted(left.columns) == sorted(right.columns)
    assert_frame_equal(left.select(right.columns), right, check_dtypes=False)


def _change_some(url: str) -> dict[str, int]:
    """About 1% of the registry: a course and a patient retired, a score corrected."""
    with transaction(engine_for(url)) as session:
        courses = session.scalars(select(TreatmentCourse.id).order_by(TreatmentCourse.id)).all()
        retired_course = courses[3]
        registry.retire(
            session,
            ENTITIES["treatment_course"],
            retired_course,
            reason="entered twice",
            actor=ACTOR,
        )
        patient = session.scalars(select(Patient.id).order_by(Patient.id.desc())).first()
        assert patient is not None
        registry.retire(session, ENTITIES["patient"], patient, reason="withdrew", actor=ACTOR)
        nrs = session.scalars(
            select(Assessment)
            .where(Assessment.instrument == "NRS", Assessment.course_id == courses[10])
            .order_by(Assessment.assessed_on.desc())
        ).first()
        assert nrs is not None
        assessments.update(
            session,
            nrs.id,
            AssessmentUpdate(items=[0 if (nrs.score or 0) > 5 else 9], reason="typo"),
            actor=ACTOR,
            schedule=DEFAULT,
        )
        return {"course": retired_course, "patient": patient, "corrected": courses[10]}


def test_an_incremental_refresh_equals_a_cold_build(registry_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "analysis"
    cold = store.refresh(registry_url, directory=folder)
    assert cold.kind == "cold" and cold.rows > 100
    _same(store.read_snapshot(folder), course_table(registry_url))

    changed = _change_some(registry_url)
    done = store.refresh(registry_url, directory=folder)
    assert done.kind == "incremental"
    assert 1 <= done.courses <= 5 and done.removed >= 2  # the retired course and patient's
    snapshot = store.read_snapshot(folder)
    _same(snapshot, course_table(registry_url))
    assert changed["course"] not in snapshot["course_id"].to_list()
    assert store.refresh(registry_url, directory=folder).kind == "current"


def test_a_reader_never_gets_a_stale_snapshot(registry_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "analysis"
    first = store.analysis_table(registry_url, directory=folder)
    assert first.refresh is not None and first.refresh.kind == "cold"
    assert not store.is_stale(registry_url, directory=folder)
    again = store.analysis_table(registry_url, directory=folder)
    assert again.refresh is not None and again.refresh.kind == "current"
    assert again.data_as_of == first.data_as_of

    changed = _change_some(registry_url)
    assert store.is_stale(registry_url, directory=folder)
    after = store.analysis_table(registry_url, directory=folder, measures=["nrs_back"])
    assert after.refresh is not None and after.refresh.kind == "incremental"
    assert after.data_as_of is not None and first.data_as_of is not None
    assert after.data_as_of > first.data_as_of
    assert changed["course"] not in after.table["course_id"].to_list()
    assert "odi_6m" not in after.table.columns and "nrs_back_6m" in after.table.columns
    site = int(after.table["site_id"][0])
    only = store.analysis_table(registry_url, directory=folder, filters=Filters(site_ids=[site]))
    _same(only.table, course_table(registry_url, filters=Filters(site_ids=[site])))


def test_prolo_analysis_refresh_says_what_it_did(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from prolo.cli import app

    for url in initialised_database("sqlite", tmp_path, ADMIN_PASSWORD):
        run.to_database(url, 30, 2, params.load(None))
        folder = tmp_path / "store"
        runner = CliRunner()
        first = runner.invoke(
            app, ["analysis", "refresh", "--database", url, "--directory", str(folder)]
        )
        assert first.exit_code == 0, first.output
        assert first.output.startswith("cold: ") and " s " in first.output
        second = runner.invoke(
            app, ["analysis", "refresh", "--database", url, "--directory", str(folder)]
        )
        assert second.output.startswith("current: 0 courses rebuilt")
        engine_for(url).dispose()


def test_while_a_writer_holds_sqlite_the_reader_reads_the_database(tmp_path: Path) -> None:
    import sqlite3

    for url in initialised_database("sqlite", tmp_path, ADMIN_PASSWORD):
        run.to_database(url, 20, 4, params.load(None))
        writer = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            answer = store.analysis_table(url, directory=tmp_path / "store")
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert answer.refresh is None and answer.data_as_of is not None
        _same(answer.table, course_table(url))
        engine_for(url).dispose()


def _correct_scores(url: str, course_ids: list[int]) -> None:
    """Correct the latest NRS of each course (a new score: the course must be rebuilt)."""
    with transaction(engine_for(url)) as session:
        for course in course_ids:
            nrs = session.scalars(
                select(Assessment)
                .where(Assessment.instrument == "NRS", Assessment.course_id == course)
                .order_by(Assessment.assessed_on.desc())
            ).first()
            if nrs is None:
                continue
            assessments.update(
                session,
                nrs.id,
                AssessmentUpdate(items=[(int(nrs.score or 0) + 3) % 11], reason="typo"),
                actor=ACTOR,
                schedule=DEFAULT,
            )


def test_deltas_accumulate_then_fold_into_a_new_base(registry_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "analysis"
    store.refresh(registry_url, directory=folder)
    with engine_for(registry_url).connect() as connection:
        courses = connection.scalars(select(TreatmentCourse.id).order_by(TreatmentCourse.id)).all()
    deltas_seen = []
    for round_ in range(6):
        _correct_scores(registry_url, list(courses[round_ * 4 : round_ * 4 + 4]))
        done = store.refresh(registry_url, directory=folder)
        assert done.kind == "incremental"
        state = store._state(folder)
        assert state is not None
        deltas_seen.append(len(state["deltas"]))
        # after every refresh: base + deltas give exactly what a cold build gives
        _same(store.read_snapshot(folder), course_table(registry_url))
        files = {p.name for p in folder.glob("*.parquet")}
        assert files == {state["base"], *state["deltas"]}  # nothing left behind
    # each small refresh added a delta; past a tenth of the base they were folded into one base
    assert deltas_seen[0] == 1 and deltas_seen[1] == 2
    assert 0 in deltas_seen[2:]
    only_nrs = store.read_snapshot(folder, measures=["nrs_back"])
    assert "odi_6m" not in only_nrs.columns and "nrs_back_6m" in only_nrs.columns
    assert only_nrs.height == course_table(registry_url).height


def test_a_reader_retries_when_a_refresh_replaced_the_files_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in initialised_database("sqlite", tmp_path, ADMIN_PASSWORD):
        run.to_database(url, 20, 4, params.load(None))
        _read_with_an_outdated_state(url, tmp_path / "store", monkeypatch)
        engine_for(url).dispose()


def _read_with_an_outdated_state(url: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store.refresh(url, directory=folder)
    outdated = store._state(folder)
    assert outdated is not None
    store.refresh(url, directory=folder, full=True)  # a new base: the old one is removed
    assert not (folder / outdated["base"]).exists()
    real_state = store._state
    answers = [outdated]

    def outdated_first(directory: Path) -> dict[str, object] | None:
        return answers.pop() if answers else real_state(directory)

    monkeypatch.setattr(store, "_state", outdated_first)
    _same(store.read_snapshot(folder), course_table(url))
    assert not answers  # the outdated state was read, failed, and the read was retried

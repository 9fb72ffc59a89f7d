"""The bulk import grows linearly with the registry: four times the patients may not take more
than eight times as long (a ratio, so the test holds on a slow or busy machine). A quadratic
step — PostgreSQL planning a query-back over freshly loaded, un-analysed tables — made the
ratio 12.7 at these sizes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from prolo.db import engine_for
from prolo.followup.backfill import create_for_imported
from prolo.followup.schedule import DEFAULT
from prolo.synth import params, run
from tests.conftest import ADMIN_PASSWORD
from tests.databases import initialised_database

SMALL, LARGE = 2_000, 8_000


def _seconds_to_import(kind: str, folder: Path, patients: int) -> float:
    for url in initialised_database(kind, folder, ADMIN_PASSWORD):
        started = time.perf_counter()
        run.to_database(url, patients, 11, params.load(None))
        spent = time.perf_counter() - started
        engine_for(url).dispose()
        return spent
    raise AssertionError("no database")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_four_times_the_patients_take_at_most_eight_times_as_long(
    kind: str, tmp_path: Path
) -> None:
    (tmp_path / "warm").mkdir()
    _seconds_to_import(kind, tmp_path / "warm", 200)  # imports and caches warmed up
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    small = _seconds_to_import(kind, tmp_path / "small", SMALL)
    large = _seconds_to_import(kind, tmp_path / "large", LARGE)
    assert large <= 8 * small, f"{kind}: {SMALL} patients {small:.1f} s, {LARGE} {large:.1f} s"


@pytest.fixture(params=["sqlite", "postgresql"])
def imported(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    for url in initialised_database(request.param, tmp_path, ADMIN_PASSWORD):
        run.to_database(url, 120, 3, params.load(None))
        yield url
        engine_for(url).dispose()


def _due(url: str) -> pd.DataFrame:
    with engine_for(url).connect() as connection:
        frame = pd.DataFrame(
            connection.execute(
                text(
                    "SELECT course_id, time_point, due_on, window_opens, window_closes, "
                    "instruments, status, answered_at FROM due_questionnaires"
                )
            ).all()
        )
    frame["instruments"] = frame["instruments"].astype(str)
    frame["answered_at"] = pd.to_datetime(frame["answered_at"], utc=True)
    return frame.sort_values(["course_id", "time_point"]).reset_index(drop=True)


def test_due_questionnaires_from_the_batch_equal_those_read_back(imported: str) -> None:
    """The in-memory computation gives the rows the query-back path gives."""
    from_batch = _due(imported)
    engine = engine_for(imported)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM due_questionnaires"))
        top = connection.scalar(text("SELECT MAX(id) FROM treatment_courses"))
        create_for_imported(connection, 1, int(top), DEFAULT)
    read_back = _due(imported)
    assert len(from_batch) > 0
    pd.testing.assert_frame_equal(from_batch, read_back)

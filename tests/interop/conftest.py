"""A fresh, initialised database per test on SQLite and on PostgreSQL: bulk imports commit, so
they get their own database rather than the shared, rolled-back one of ``database_url``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.databases import initialised_database


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from initialised_database(request.param, tmp_path, ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def synthetic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A committed SQLite registry of 50 synthetic patients, shared by the exchange tests
    (which only read it; tests add no clinical data to it)."""
    from prolo.synth.params import load
    from prolo.synth.run import to_database

    folder = tmp_path_factory.mktemp("registry50")
    for url in initialised_database("sqlite", folder, ADMIN_PASSWORD):
        to_database(url, 50, 5, load())
        yield url

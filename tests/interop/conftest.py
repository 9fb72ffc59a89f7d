"""A fresh, initialised database per test on SQLite and on PostgreSQL: bulk imports commit, so
they get their own database rather than the shared, rolled-back one of ``database_url``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prolo.registry.setup import initialise
from tests.conftest import ADMIN_PASSWORD
from tests.databases import create_postgres_database, drop_postgres_database, require_postgres


def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'bulk.db'}"
        initialise(url, admin_password=ADMIN_PASSWORD)
        yield url
        return
    require_postgres()
    url = create_postgres_database()
    try:
        initialise(url, admin_password=ADMIN_PASSWORD)
        yield url
    finally:
        from prolo.db import engine_for

        engine_for(url).dispose()
        drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request.param, tmp_path)

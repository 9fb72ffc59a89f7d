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

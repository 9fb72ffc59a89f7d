"""The same migrations run up and down on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from prolo.db import current_revision, downgrade, make_engine, upgrade
from prolo.models import metadata
from tests.databases import create_postgres_database, drop_postgres_database, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    require_postgres()
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    downgrade(empty_database, "base")
    assert current_revision(empty_database) is None
    remaining = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert remaining == set()
    upgrade(empty_database)
    assert current_revision(empty_database) is not None
    engine.dispose()


def test_models_and_migrations_agree(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == [], "a model changed without a migration: run alembic revision"

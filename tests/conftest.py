"""Fixtures: every database test runs on SQLite and on PostgreSQL, each inside a rolled-back
transaction; API tests share that transaction through the app's session dependency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from prolo.db import make_engine
from prolo.registry.setup import initialise
from tests.databases import create_postgres_database, drop_postgres_database, require_postgres

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'prolo.db'}"
        initialise(url)
        yield url
        return
    require_postgres()
    url = create_postgres_database()
    try:
        initialise(url)
        yield url
    finally:
        from prolo.db import engine_for

        engine_for(url).dispose()
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside one transaction that is rolled back."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def app(database_url: str, db: Session) -> FastAPI:
    from prolo.web.app import create_app
    from prolo.web.deps import get_db

    application = create_app(database_url)

    def test_session() -> Iterator[Session]:
        yield db

    application.dependency_overrides[get_db] = test_session
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client

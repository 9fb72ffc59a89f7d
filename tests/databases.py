"""Where the test databases live: a SQLite file per run and a PostgreSQL database per worker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "PROLO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} does not answer: {str(error).splitlines()[0]}"
    return None


def require_postgres() -> None:
    """Skip with the reason when PostgreSQL is absent — but fail under CI=true, never skip."""
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests (see scripts/ensure-services.sh)")
    pytest.skip(f"{reason}; start it to run the PostgreSQL half of the suite")


def create_postgres_database() -> str:
    name = f"prolo_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def initialised_database(kind: str, folder: Path, password: str) -> Iterator[str]:
    """A new database of ``kind`` (a SQLite file in ``folder``, or a PostgreSQL database),
    migrated and loaded as `prolo init` would; dropped afterwards."""
    from prolo.db import engine_for
    from prolo.registry.setup import initialise

    if kind == "sqlite":
        url = f"sqlite:///{folder / 'prolo.db'}"
        initialise(url, admin_password=password)
        yield url
        return
    require_postgres()
    url = create_postgres_database()
    try:
        initialise(url, admin_password=password)
        yield url
    finally:
        engine_for(url).dispose()
        drop_postgres_database(url)

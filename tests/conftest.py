"""Fixtures: every database test runs on SQLite and on PostgreSQL, each inside a rolled-back
transaction; API tests share that transaction through the app's session dependency."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from prolo.db import make_engine
from prolo.security.models import ROLES
from tests.databases import initialised_database

ADMIN_PASSWORD = "correct horse admin staple"
# Analysis stores of the test databases in a temporary folder, not under the home folder.
os.environ.setdefault("PROLO_ANALYSIS_DIR", tempfile.mkdtemp(prefix="prolo-analysis-"))
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from initialised_database(request.param, tmp_path_factory.mktemp("db"), ADMIN_PASSWORD)


@dataclass(frozen=True)
class Identities:
    """Users committed once per database: one per role at site HOME, and their tokens."""

    home_site_id: int
    away_site_id: int
    passwords: dict[str, str]
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)  # (role, scope) -> token

    def headers(self, role: str = "admin", scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[(role, scope)]}"}


@pytest.fixture(scope="session")
def identities(database_url: str) -> Identities:
    from prolo.db import engine_for, transaction
    from prolo.registry import service as registry
    from prolo.registry.entities import ENTITIES
    from prolo.security import service
    from prolo.security.principal import system

    actor = system("test set-up")
    with transaction(engine_for(database_url)) as session:
        sites = [
            registry.create(
                session,
                ENTITIES["site"],
                ENTITIES["site"].create(code=code, name=code),
                actor=actor,
            )
            for code in ("HOME", "AWAY")
        ]
        found = Identities(sites[0].id, sites[1].id, {})
        for role in ROLES:
            password = f"correct horse {role} staple"
            if role != "admin":  # `prolo init` made the administrator
                service.add_user(
                    session,
                    username=role,
                    password=password,
                    role=role,
                    site_codes=["HOME"],
                    actor=actor,
                )
            found.passwords[role] = password
            for scope in ("read", "write", "admin"):
                if scope == "admin" and role != "admin":
                    continue
                issued = service.issue_token(
                    session, username=role, scope=scope, days=30, name=None, actor=actor
                )
                found.tokens[(role, scope)] = issued.secret
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, initialised database of its own, for tests whose data must really be committed
    (readers on other connections, command-line tools)."""
    yield from initialised_database(request.param, tmp_path, ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def engine(database_url: str, identities: Identities) -> Iterator[Engine]:
    """The shared database's engine; the users and sites of ``identities`` always exist first,
    whichever test a worker happens to run first."""
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
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    """A client with no credentials, over HTTPS so that secure cookies are kept."""
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def client(app: FastAPI, identities: Identities) -> Iterator[TestClient]:
    """A client acting as the administrator through an admin-scoped bearer token."""
    with TestClient(
        app, base_url="https://testserver", headers=identities.headers()
    ) as test_client:
        yield test_client

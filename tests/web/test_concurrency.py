"""Concurrency that holds: many clients at once against a real server on a real database get
answers, never 500s or hangs; writers queue instead of failing; a request that cannot be
served in time gets 503 with Retry-After."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from prolo.db import engine_for, is_sqlite
from prolo.registry.models import AuditEntry, Patient
from prolo.settings import get_settings
from prolo.web.app import create_app
from tests.live import Clinic, open_clinic, patient_body, served

READERS, WRITERS = 32, 16
CLIENT_TIMEOUT = 60  # seconds: a hang fails the test instead of stalling the suite


def _all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    start = Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_concurrent_reads_and_writes_all_succeed_and_are_audited(fresh_database_url: str) -> None:
    url = fresh_database_url
    clinic = open_clinic(url)
    limits = httpx.Limits(max_connections=READERS + WRITERS)
    with (
        served(create_app(url)) as base,
        httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT, limits=limits) as http,
    ):
        read = Clinic.bearer(clinic.read_token)
        write = Clinic.bearer(clinic.write_token)
        calls: list[Callable[[], httpx.Response]] = [
            lambda: http.get("/patients?limit=20&sort=-id", headers=read) for _ in range(READERS)
        ]
        calls += [
            lambda n=n: http.post(  # type: ignore[misc]
                "/patients", json=patient_body(clinic.site_id, f"C{n:03d}"), headers=write
            )
            for n in range(WRITERS)
        ]
        responses = _all_at_once(calls)
    failures = [(r.status_code, r.text[:200]) for r in responses if r.status_code >= 300]
    assert failures == []
    created = {r.json()["id"] for r in responses if r.request.method == "POST"}
    with engine_for(url).connect() as db:
        stored = set(db.scalars(select(Patient.id)))
        audited = set(
            db.scalars(
                select(AuditEntry.entity_id).where(
                    AuditEntry.entity == "patient", AuditEntry.action == "create"
                )
            )
        )
        uses = db.execute(
            select(AuditEntry.entity_id, func.count())
            .where(AuditEntry.action == "token_use")
            .group_by(AuditEntry.entity_id)
        ).all()
    assert len(created) == WRITERS and created == stored and created <= audited
    # 48 requests within a minute by two tokens: each token's use is written down once.
    assert sorted(count for _, count in uses) == [1, 1]


@pytest.fixture
def small_server(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, Clinic, object]]:
    """A server allowed two connections and one second of waiting."""
    monkeypatch.setenv("PROLO_DB_POOL_SIZE", "2")
    monkeypatch.setenv("PROLO_QUEUE_TIMEOUT", "1")
    get_settings.cache_clear()
    engine_for.cache_clear()
    try:
        clinic = open_clinic(fresh_database_url)
        app = create_app(fresh_database_url)
        with served(app) as base:
            yield fresh_database_url, base, clinic, app.state.engine
    finally:
        engine_for(fresh_database_url).dispose()
        get_settings.cache_clear()
        engine_for.cache_clear()


def _assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    assert response.json()["title"] == "Service busy: try again shortly"


def test_an_exhausted_pool_answers_503_with_retry_after(
    small_server: tuple[str, str, Clinic, object],
) -> None:
    _, base, clinic, engine = small_server
    held = [engine.connect() for _ in range(2)]  # type: ignore[attr-defined]
    with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT) as http:
        headers = Clinic.bearer(clinic.read_token)
        try:
            # two requests are let in and find no connection; two more wait in line in vain
            responses = _all_at_once([lambda: http.get("/patients", headers=headers)] * 4)
            for response in responses:
                _assert_busy(response)
        finally:
            for connection in held:
                connection.close()
        assert http.get("/patients", headers=headers).status_code == 200


def test_a_sqlite_writer_that_cannot_get_the_lock_answers_503(
    small_server: tuple[str, str, Clinic, object],
) -> None:
    url, base, clinic, _ = small_server
    if not is_sqlite(url):
        pytest.skip("SQLite's write lock")
    blocker = sqlite3.connect(str(make_url(url).database), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process writing for longer than we wait
    body = patient_body(clinic.site_id, "LOCKED1")
    with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT) as http:
        headers = Clinic.bearer(clinic.write_token)
        try:
            _assert_busy(http.post("/patients", json=body, headers=headers))
        finally:
            blocker.rollback()
            blocker.close()
        assert http.post("/patients", json=body, headers=headers).status_code == 201

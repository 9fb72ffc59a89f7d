"""Nothing acknowledged is lost and nothing is half-written when the server or an import is
killed with SIGKILL (no clean shutdown), on SQLite and PostgreSQL.

The server: clients create patients and submit e-mailed questionnaires over HTTP while
`prolo serve` is killed; after a restart every write that was answered 2xx is present with its
audit row, every write that is present (answered or not) is whole, and the database checks out.
The import: `prolo import` is killed part-way; each batch is all or nothing, and running the
same import again completes it without duplicates.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from prolo.db import engine_for, transaction
from prolo.followup.models import DueQuestionnaire, Invitation
from prolo.followup.service import issue_link
from prolo.registry import models as m
from prolo.registry.models import AuditEntry
from tests import factories as f
from tests.databases import initialised_database
from tests.live import Clinic, ServeProcess, open_clinic, patient_body

pytestmark = [pytest.mark.slow]

CLIENTS = 8
QUESTIONNAIRES = 12


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from initialised_database(request.param, tmp_path, "correct horse admin staple")


def _open_links(url: str, clinic: Clinic) -> list[tuple[str, int]]:
    """Questionnaires due now for new courses at the clinic's site, each with a fresh link."""
    links = []
    with transaction(engine_for(url)) as db:
        site = db.get(m.Site, clinic.site_id)
        assert site is not None
        by = f.practitioner(db, at=site)
        for _ in range(QUESTIONNAIRES):
            condition = f.condition(db, of=f.patient(db, at=site))
            f.prior_treatment(db, of=condition)
            course = f.course(db, of=condition, by=by, start_date=f.days_ago(50))
            f.injection_session(db, of=course)
        today = dt.date.today()
        for due in db.scalars(
            select(DueQuestionnaire).where(
                DueQuestionnaire.window_opens <= today,
                DueQuestionnaire.window_closes >= today,
                DueQuestionnaire.status == "due",
            )
        ):
            _, token = issue_link(db, due, kind="invitation")
            links.append((token, due.id))
    assert links, "the set-up made no questionnaire due today"
    return links


def _answers(instruments: list[str]) -> dict[str, str]:
    form = {"action": "submit", "NRS__0": "3", "NRS_LEG__0": "2", "WORK__0": "2"}
    form["ANALGESIC__0"] = "1"
    for n, value in enumerate([1, 2, 1, 0, 3, 2, 1, 0, 2, 1]):
        form[f"ODI__{n}"] = str(value)
    form["PGIC__0"] = "2"
    return form


class Load:
    """Clients writing until told to stop; what the server acknowledged is remembered."""

    def __init__(self, base: str, clinic: Clinic, links: list[tuple[str, int]]) -> None:
        self.base, self.clinic = base, clinic
        self.links = list(links)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.acknowledged_patients: set[str] = set()
        self.attempted_patients: set[str] = set()
        self.acknowledged_dues: set[int] = set()

    def _next_link(self) -> tuple[str, int] | None:
        with self.lock:
            return self.links.pop() if self.links else None

    def client(self, number: int) -> None:
        headers = Clinic.bearer(self.clinic.write_token)
        with httpx.Client(base_url=self.base, timeout=10) as http:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    if number % 2 and (link := self._next_link()) is not None:
                        token, due_id = link
                        answered = http.post(f"/q/{token}", data=_answers([]))
                        if answered.status_code == 200 and "Thank you" in answered.text:
                            with self.lock:
                                self.acknowledged_dues.add(due_id)
                        continue
                    external = f"crash-{number}-{n}"
                    with self.lock:
                        self.attempted_patients.add(external)
                    made = http.post(
                        "/patients",
                        json=patient_body(self.clinic.site_id, external),
                        headers=headers,
                    )
                    if made.status_code == 201:
                        with self.lock:
                            self.acknowledged_patients.add(external)
                except httpx.TransportError:
                    time.sleep(0.05)  # the server is gone; keep trying until told to stop


def _check_integrity(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []


def test_acknowledged_writes_survive_a_killed_server(database: str) -> None:
    url = database
    clinic = open_clinic(url)
    links = _open_links(url, clinic)
    server = ServeProcess(url)
    load = Load(server.base, clinic, links)
    threads = [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(load.acknowledged_patients) < 20 or len(load.acknowledged_dues) < 3:
        assert time.monotonic() < deadline, "the server acknowledged too little before the kill"
        time.sleep(0.05)
    server.kill()
    load.stop.set()
    for thread in threads:
        thread.join(timeout=30)

    restarted = ServeProcess(url)  # starts on what the killed server left behind
    try:
        assert httpx.get(f"{restarted.base}/health").json()["status"] == "ok"
        engine = create_engine(url)
        _check_integrity(engine)
        with engine.connect() as db:
            stored = {
                external: patient_id
                for external, patient_id in db.execute(
                    select(m.Patient.external_id, m.Patient.id).where(
                        m.Patient.external_id.like("crash-%")
                    )
                )
            }
            missing = load.acknowledged_patients - set(stored)
            assert not missing, f"acknowledged patients lost: {sorted(missing)[:5]}"
            assert set(stored) <= load.attempted_patients
            audited = set(
                db.scalars(
                    select(AuditEntry.entity_id).where(
                        AuditEntry.entity == "patient", AuditEntry.action == "create"
                    )
                )
            )
            unaudited = [e for e, i in stored.items() if i not in audited]
            assert not unaudited, f"patients without their audit row: {unaudited[:5]}"

            answered = set(
                db.scalars(select(DueQuestionnaire.id).where(DueQuestionnaire.status == "answered"))
            )
            assert load.acknowledged_dues <= answered, "acknowledged questionnaires lost"
            for due_id in answered:  # every answered questionnaire is whole
                due = db.execute(
                    select(DueQuestionnaire.course_id, DueQuestionnaire.instruments).where(
                        DueQuestionnaire.id == due_id
                    )
                ).one()
                used = db.scalar(
                    select(func.count()).where(
                        Invitation.due_id == due_id, Invitation.used_at.is_not(None)
                    )
                )
                assert used == 1
                stored_instruments = db.scalar(
                    text(
                        "SELECT count(*) FROM assessments WHERE course_id = :course "
                        "AND source = 'patient_link'"
                    ),
                    {"course": due.course_id},
                )
                assert stored_instruments == len(due.instruments)
                trail = db.scalar(
                    select(func.count()).where(
                        AuditEntry.entity == "due_questionnaire",
                        AuditEntry.entity_id == due_id,
                        AuditEntry.action == "answered",
                    )
                )
                assert trail == 1
            expected: dict[int, int] = {}
            for course_id, instruments in db.execute(
                select(DueQuestionnaire.course_id, DueQuestionnaire.instruments).where(
                    DueQuestionnaire.status == "answered"
                )
            ):
                expected[course_id] = expected.get(course_id, 0) + len(instruments)
            found = dict(
                db.execute(
                    text(
                        "SELECT course_id, count(*) FROM assessments "
                        "WHERE source = 'patient_link' GROUP BY course_id"
                    )
                ).all()
            )
            assert found == expected, "half a questionnaire was written"
        engine.dispose()
        # the restarted server takes writes again
        again = httpx.post(
            f"{restarted.base}/patients",
            json=patient_body(clinic.site_id, "after-restart"),
            headers=Clinic.bearer(clinic.write_token),
        )
        assert again.status_code == 201, again.text
    finally:
        restarted.stop()


def _prolo(*args: str) -> list[str]:
    return [sys.executable, "-m", "prolo.cli", *args]


def _import_counts(engine: Engine) -> dict[str, tuple[int, int]]:
    """Per table: rows present, and rows the import's audit entries say were written."""
    from prolo.interop.tables import TABLES

    counts = {}
    with engine.connect() as db:
        audited: dict[str, int] = {}
        for (after,) in db.execute(select(AuditEntry.after).where(AuditEntry.action == "import")):
            audited[after["table"]] = audited.get(after["table"], 0) + int(after["count"])
        for name, spec in TABLES.items():
            present = db.scalar(select(func.count()).select_from(spec.table)) or 0
            counts[name] = (int(present), audited.get(name, 0))
    return counts


def test_a_killed_import_is_all_or_nothing_per_batch_and_completes_when_run_again(
    database: str, tmp_path: Path
) -> None:
    url = database
    files = tmp_path / "files"
    made = subprocess.run(
        _prolo(
            "synth",
            "--patients",
            "600",
            "--seed",
            "7",
            "--out",
            str(files),
            "--truth",
            str(tmp_path / "truth.json"),
        ),
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    command = _prolo(
        "import", str(files), "--database", url, "--batch-rows", "200", "--no-progress"
    )
    engine = create_engine(url)
    running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while True:  # kill it once some batches, not all, are in
        assert running.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline
        with engine.connect() as db:
            written = db.scalar(select(func.count()).where(AuditEntry.action == "import"))
        if written and written >= 3:
            break
        time.sleep(0.05)
    os.kill(running.pid, signal.SIGKILL)
    running.wait(timeout=30)

    _check_integrity(engine)
    part_way = _import_counts(engine)
    for table, (present, audited) in part_way.items():
        assert present == audited, f"{table}: {present} rows but batches of {audited} audited"
    assert sum(present for present, _ in part_way.values()) > 0

    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert "already imported by an earlier run: skipped" in finished.stdout
    complete = _import_counts(engine)
    for table, (present, audited) in complete.items():
        assert present == audited, f"{table}: {present} rows but {audited} audited"
    assert complete["patients"][0] == 600
    with engine.connect() as db:
        duplicates = db.scalar(
            text(
                "SELECT count(*) FROM (SELECT site_id, external_id FROM patients "
                "GROUP BY site_id, external_id HAVING count(*) > 1) d"
            )
        )
    assert duplicates == 0
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0 and "written" not in again.stdout.replace("skipped", "")
    engine.dispose()

"""Benchmark: the coordinator's, researcher's and administrator's pages on a large registry
(issue 14: pages within 1 s at 100,000 patients; the dashboard may read a cached report).

On an existing registry (e.g. ``prolo synth --patients 100000 --database URL``) a coordinator of
the first site, a researcher and an administrator are added; each signs in through the login form
and each page is fetched ``--repeat`` times in-process (FastAPI's TestClient: the whole request,
no network). Printed per page: the first fetch and the median of the others, in milliseconds.
The dashboard's report is computed in a background thread: printed are the time of the page
that starts it, the time until the report is ready (polling), and the cached page.

Run: ``uv run python benchmarks/pages_staff.py --database URL [--repeat 5]``. Not in CI.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from prolo.db import engine_for, transaction
from prolo.followup.models import DueQuestionnaire
from prolo.registry.models import AuditEntry, Patient, Site
from prolo.security import service as security
from prolo.security.principal import system
from prolo.web.app import create_app

PASSWORD = "benchmark staff passphrase"


def signed_in(client: TestClient, username: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    signed = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def timed(client: TestClient, name: str, path: str, repeat: int) -> None:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    print(f"{name:<34}{times[0]:>10.0f}{statistics.median(times[1:] or times):>11.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    users = {role: f"bench-{role}-{suffix}" for role in ("coordinator", "researcher", "admin")}
    with transaction(engine_for(args.database)) as db:
        site = db.scalars(select(Site).order_by(Site.id)).first()
        assert site is not None, "the registry has no site"
        for role, username in users.items():
            security.add_user(
                db,
                username=username,
                password=PASSWORD,
                role=role,
                site_codes=[site.code] if role == "coordinator" else [],
                actor=system("benchmark"),
            )
        patients = db.scalar(select(func.count()).select_from(Patient)) or 0
        due = db.scalar(select(func.count()).select_from(DueQuestionnaire)) or 0
        entries = db.scalar(select(func.count()).select_from(AuditEntry)) or 0
    print(f"registry: {patients:,} patients, {due:,} due questionnaires, {entries:,} audit entries")
    app = create_app(args.database)
    print(f"{'page':<34}{'first ms':>10}{'median ms':>11}")
    with TestClient(app, base_url="https://testserver") as client:
        signed_in(client, users["coordinator"])
        for name, path in {
            "worklist (open, overdue)": "/app/followup",
            "worklist: answered, page 20": "/app/followup?state=answered&page=20",
            "worklist: 6 weeks, by practitioner": "/app/followup?time_point=6w&by=practitioner",
        }.items():
            timed(client, name, path, args.repeat)
    with TestClient(app, base_url="https://testserver") as client:
        signed_in(client, users["admin"])
        for name, path in {
            "administration": "/app/admin",
            "audit trail": "/app/admin/audit",
            "audit trail: page 3": "/app/admin/audit?page=3",
            "audit trail: patients, dates": "/app/admin/audit?entity=patient&since=2020-01-01",
            "practitioners": "/app/admin/practitioners",
            "users": "/app/admin/users",
        }.items():
            timed(client, name, path, args.repeat)
    with TestClient(app, base_url="https://testserver") as client:
        signed_in(client, users["researcher"])
        started = time.perf_counter()
        first = client.get("/app/reports")
        starting = (time.perf_counter() - started) * 1000
        print(f"{'dashboard: page starting report':<34}{starting:>10.0f}")
        assert first.status_code == 200
        while "is being computed" in client.get("/app/reports/result").text:
            time.sleep(0.25)
        ready = time.perf_counter() - started
        print(f"{'dashboard: report ready after':<34}{ready * 1000:>10.0f}")
        timed(client, "dashboard (cached report)", "/app/reports", args.repeat)


if __name__ == "__main__":
    main()

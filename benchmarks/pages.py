"""Benchmark: the home page (/app) of every role, the patient list, the worklist, the outcome
dashboard and the public pages on a large registry (issue 14: within 1 s at 100,000 patients).

On an existing registry (``prolo synth --patients 100000 --database URL``) a user per role is
added at the first site; each signs in through the login form and each page is fetched
``--repeat`` times in-process (FastAPI's TestClient: the whole request, no network). Printed
per page: the first fetch (cold: caches empty) and the median of the others, in milliseconds.

Run: ``uv run python benchmarks/pages.py --database URL [--repeat 5]``. Not in CI.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from prolo.db import engine_for, transaction
from prolo.registry.models import Patient, Site, TreatmentCourse
from prolo.security import service as security
from prolo.security.principal import system
from prolo.web.app import create_app

PASSWORD = "benchmark pages passphrase"


def sign_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    signed = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def timed(client: TestClient, path: str, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times[0], statistics.median(times[1:] or times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    users = {role: f"bench-{role}-{suffix}" for role in ("admin", "clinician", "coordinator")}
    users["researcher"] = f"bench-researcher-{suffix}"
    with transaction(engine_for(args.database)) as db:
        site = db.scalars(select(Site).order_by(Site.id)).first()
        assert site is not None, "the registry has no site"
        for role, username in users.items():
            security.add_user(
                db,
                username=username,
                password=PASSWORD,
                role=role,
                site_codes=[site.code],
                actor=system("benchmark"),
            )
        patients = db.scalar(select(func.count()).select_from(Patient)) or 0
        at_site = db.scalar(select(func.count()).where(Patient.site_id == site.id)) or 0
        practitioner_id = db.scalar(
            select(TreatmentCourse.practitioner_id)
            .group_by(TreatmentCourse.practitioner_id)
            .order_by(func.count().desc())
            .limit(1)
        )
    print(f"registry: {patients:,} patients; the users' site {site.code}: {at_site:,}")
    pages = [
        (None, "public: registry figures", "/about/figures"),
        (None, "public: practitioner profile", f"/about/practitioners/{practitioner_id}"),
        (None, "public: what prolotherapy is", "/about"),
        ("admin", "admin: home (/app)", "/app"),
        ("admin", "admin: audit trail", "/app/admin/audit"),
        ("clinician", "clinician: home (/app)", "/app"),
        ("clinician", "clinician: patient list", "/app/patients"),
        ("coordinator", "coordinator: home (/app)", "/app"),
        ("coordinator", "coordinator: patient list", "/app/patients"),
        ("coordinator", "coordinator: worklist", "/app/followup"),
        ("researcher", "researcher: home (/app)", "/app"),
        ("researcher", "researcher: outcome dashboard", "/app/reports"),
    ]
    with TestClient(create_app(args.database), base_url="https://testserver") as client:
        print(f"{'page':<34}{'first ms':>10}{'median ms':>11}")
        signed_in_as: str | None = None
        for role, name, path in pages:
            if role != signed_in_as:
                if role is None:
                    client.cookies.clear()
                else:
                    sign_in(client, users[role])
                signed_in_as = role
            first, median = timed(client, path, args.repeat)
            print(f"{name:<34}{first:>10.0f}{median:>11.0f}", flush=True)
        # the public figures are computed by a background thread that no visitor waits for;
        # its cost, then the public pages again with the figures in place
        from prolo.public import figures

        app: Any = client.app
        key = app.state.engine.url.render_as_string(hide_password=False)
        figures.registry_figures(key, wait=True)  # the run the first visit started
        started = time.perf_counter()
        figures.compute(key)
        print(f"public figures, background computation: {time.perf_counter() - started:.1f} s")
        client.cookies.clear()
        for _, name, path in pages[:2]:
            first, median = timed(client, path, args.repeat)
            print(f"{name + ' (computed)':<34}{first:>10.0f}{median:>11.0f}", flush=True)


if __name__ == "__main__":
    main()

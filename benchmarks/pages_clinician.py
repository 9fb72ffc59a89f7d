"""Benchmark: the clinician's pages on a large registry (issue 14: within 1 s at 100,000).

On an existing registry (e.g. ``prolo synth --patients 100000 --database URL``) a clinician of
the first site is added, signs in through the login form, and each page is fetched ``--repeat``
times in-process (FastAPI's TestClient: the whole request, no network). Printed per page:
the first fetch and the median of the others, in milliseconds. The outcome figures (fetched by
the home page after it is shown) are computed on their first fetch and kept ten minutes: that
first fetch is their cold cost.

Run: ``uv run python benchmarks/pages_clinician.py --database URL [--repeat 5]``. Not in CI.
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
from prolo.registry.models import Patient, Site, TreatmentCourse
from prolo.security import service as security
from prolo.security.principal import system
from prolo.web.app import create_app

PASSWORD = "benchmark clinician passphrase"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    username = f"bench-{uuid.uuid4().hex[:8]}"
    with transaction(engine_for(args.database)) as db:
        site = db.scalars(select(Site).order_by(Site.id)).first()
        assert site is not None, "the registry has no site"
        security.add_user(
            db,
            username=username,
            password=PASSWORD,
            role="clinician",
            site_codes=[site.code],
            actor=system("benchmark"),
        )
        patients = db.scalar(select(func.count()).select_from(Patient)) or 0
        at_site = db.scalar(select(func.count()).where(Patient.site_id == site.id)) or 0
        # a patient with a course, for the chart
        patient_id = db.scalar(
            select(TreatmentCourse.patient_id)
            .join(Patient, Patient.id == TreatmentCourse.patient_id)
            .where(Patient.site_id == site.id)
            .order_by(TreatmentCourse.id)
            .limit(1)
        )
        external = db.scalar(select(Patient.external_id).where(Patient.id == patient_id))
    print(f"registry: {patients:,} patients; the clinician's site {site.code}: {at_site:,}")
    with TestClient(create_app(args.database), base_url="https://testserver") as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        signed = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
        pages = {
            "home (/app)": "/app",
            "outcome figures": "/app/outcome-figures",
            "patient list": "/app/patients",
            "search by name": "/app/patients?name=a",
            "search by external id": f"/app/patients?external_id={external}",
            "patient chart": f"/app/patients/{patient_id}",
            "new session form": f"/app/patients/{patient_id}/sessions/new",
        }
        print(f"{'page':<24}{'first ms':>10}{'median ms':>11}")
        for name, path in pages.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            print(f"{name:<24}{times[0]:>10.0f}{statistics.median(times[1:] or times):>11.0f}")


if __name__ == "__main__":
    main()

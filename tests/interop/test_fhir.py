"""FHIR R4: the registry exports as a Bundle that validates with fhir.resources.R4B on its own,
its codes are checked against their value sets, and reading it back gives the same registry."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prolo.cli import app as cli
from prolo.db import engine_for
from prolo.interop import fhir
from prolo.interop.bulk import Importer
from prolo.interop.tables import TABLES
from tests import factories

runner = CliRunner()


def content(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every registry table, without the timestamps of when it was written."""
    found = {}
    with engine_for(url).connect() as connection:
        for name, spec in TABLES.items():
            columns = [c for c in spec.table.c if c.name not in ("created_at", "updated_at")]
            rows = connection.execute(select(*columns).order_by(spec.table.c.id))
            found[name] = [tuple(r) for r in rows]
    return found


def richer_copy(registry: str, folder: Path) -> str:
    """The synthetic registry plus what it lacks: names, contacts, notes, objective measures."""
    path = folder / "source.db"
    original = sqlite3.connect(registry.removeprefix("sqlite:///"))
    copy = sqlite3.connect(path)
    original.backup(copy)  # with what is still in the write-ahead log
    original.close()
    copy.close()
    url = f"sqlite:///{path}"
    importer = Importer(url)
    patient = {
        "id": 9001,
        "site_id": 1,
        "external_id": "MRN-9001",
        "given_name": "Ada",
        "family_name": "Example",
        "birth_date": "1970-05-06",
        "sex": "female",
        "email": "ada@example.org",
        "phone": "+1 555 0100",
        "consent_status": "given",
        "consent_date": "2024-01-02",
    }
    measures = [
        {
            "id": 1,
            "patient_id": 9001,
            "measured_on": "2024-02-01",
            "measure_type": "lumbar_flexion_rom",
            "value": 45.5,
            "unit": "deg",
            "method": "goniometer",
            "structure": "lumbar_facet_capsule",
            "side": "left",
            "finding": "stiff",
        },
        {
            "id": 2,
            "patient_id": 9001,
            "measured_on": "2024-02-01",
            "measure_type": "lumbar_flexion_rom",
            "method": "goniometer",
        },
    ]
    condition = {
        "id": 9001,
        "patient_id": 9001,
        "icd10_code": "M54.50",
        "region": "lumbar",
        "onset_date": "2023-01-01",
        "diagnosis_confirmation": "imaging",
        "notes": "worse when sitting",
    }
    result = importer.import_batch(
        {
            "patients": pd.DataFrame([patient]),
            "conditions": pd.DataFrame([condition]),
            "objective_measures": pd.DataFrame(measures),
        }
    )
    assert result.ok, result.rejected
    return url


def test_a_round_trip_gives_the_same_registry(
    synthetic_registry: str, fresh_url: str, tmp_path: Path
) -> None:
    source = richer_copy(synthetic_registry, tmp_path)
    bundle = tmp_path / "registry.json"
    done = runner.invoke(cli, ["export", "fhir", "--database", source, "--out", str(bundle)])
    assert done.exit_code == 0, done.output
    back = runner.invoke(cli, ["import", "fhir", str(bundle), "--database", fresh_url])
    assert back.exit_code == 0, back.output
    before, after = content(source), content(fresh_url)
    assert len(before["objective_measures"]) == 2 and len(before["assessments"]) > 500
    for table in before:
        assert after[table] == before[table], table


def test_the_bundle_validates_with_fhir_resources_alone(
    synthetic_registry: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "registry.json"
    fhir.export_bundle(synthetic_registry, bundle)
    # A separate interpreter that imports only fhir.resources: no code of ours checks itself.
    check = (
        "import sys\n"
        "from fhir.resources.R4B.bundle import Bundle\n"
        "b = Bundle.model_validate_json(open(sys.argv[1], 'rb').read())\n"
        "print(b.type, len(b.entry), sorted({e.resource.get_resource_type() for e in b.entry}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(bundle)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    kind, _, types = result.stdout.partition(" ")
    assert kind == "collection"
    for name in (
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Condition",
        "Procedure",
        "Questionnaire",
        "QuestionnaireResponse",
        "Observation",
        "AdverseEvent",
        "EpisodeOfCare",
    ):
        assert f"'{name}'" in types
    text = bundle.read_text()
    assert '"system": "http://loinc.org", "code": "72514-3"' in text
    assert '"code": "asked-declined"' in text or '"code": "asked-unknown"' in text


def test_codes_outside_their_value_sets_are_refused(
    synthetic_registry: str, fresh_url: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "registry.json"
    fhir.export_bundle(synthetic_registry, bundle)
    text = bundle.read_text()
    first_agent = '"code": "dextrose"'
    assert first_agent in text
    broken = tmp_path / "broken.json"
    broken.write_text(text.replace(first_agent, '"code": "snake_oil"', 1))
    done = runner.invoke(cli, ["import", "fhir", str(broken), "--database", fresh_url])
    assert done.exit_code == 1
    assert (
        "'snake_oil' is not in the value set of http://prolo-outcomes.org/fhir/CodeSystem/agent"
        in (done.output)
    )
    with engine_for(fresh_url).connect() as connection:
        value_sets = fhir.ValueSets(connection)
    bad = {
        "resourceType": "Patient",
        "id": "1",
        "gender": "female",
        "extension": [
            {
                "url": fhir.ext("consent-status"),
                "valueCoding": fhir.coding("consent_status", "maybe"),
            }
        ],
    }
    assert value_sets.problems(bad) == [
        "Patient.extension.valueCoding: 'maybe' is not in the value set of "
        "http://prolo-outcomes.org/fhir/CodeSystem/consent_status"
    ]


def test_everything_about_one_patient(client: TestClient, db: Session) -> None:
    record = factories.treated_patient(db)
    factories.injection_session(db, of=record["course"])
    patient_id = record["patient"].id
    response = client.get(f"/fhir/Patient/{patient_id}/$everything")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Patient") == 1 and "EpisodeOfCare" in kinds and "Procedure" in kinds
    assert kinds.count("Organization") == 1
    patients = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert patients[0]["id"] == str(patient_id)
    assert client.get("/fhir/Patient/999999/$everything").status_code == 404
    json.dumps(bundle)

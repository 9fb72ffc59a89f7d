"""The bulk path: corrupted rows are rejected with their row numbers, nothing of a rejected
batch is written, a good batch is written with one audit entry per table."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select, text

from prolo.db import engine_for
from prolo.interop.bulk import Importer
from prolo.interop.tables import TABLES
from prolo.registry.models import AuditEntry
from prolo.synth.generate import Synthesis
from prolo.synth.params import load


def counts(url: str) -> dict[str, int]:
    with engine_for(url).connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(spec.table)) or 0
            for name, spec in TABLES.items()
        }


def small_registry(patients: int = 40) -> list[dict[str, pd.DataFrame]]:
    return [tables for _, tables in Synthesis(patients, 7, load()).batches()]


def test_a_corrupted_batch_writes_nothing_and_names_its_rows(fresh_url: str) -> None:
    clinics, chunk = small_registry()
    importer = Importer(fresh_url)
    assert importer.import_batch(clinics).ok
    before = counts(fresh_url)
    broken = {name: frame.copy() for name, frame in chunk.items()}
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    broken["patients"].loc[4, "birth_date"] = pd.Timestamp(tomorrow)  # row 5
    broken["conditions"].loc[9, "icd10_code"] = "lumbago"  # row 10
    broken["injection_sessions"].loc[0, "concentration_percent"] = 60.0  # dextrose, row 1
    broken["assessments"].loc[2, "items"] = "[11]"  # NRS out of range, row 3
    result = importer.import_batch(broken, sources={"patients": "patients.csv"})
    found = {(r.table, r.row, r.field) for r in result.rejected}
    assert ("patients", 5, "birth_date") in found
    assert ("conditions", 10, "icd10_code") in found
    assert ("injection_sessions", 1, "concentration_percent") in found
    assert ("assessments", 3, "items") in found
    reasons = {(r.table, r.row, r.field): r for r in result.rejected}
    assert reasons[("patients", 5, "birth_date")].reason == f"{tomorrow} is in the future"
    assert reasons[("patients", 5, "birth_date")].source == "patients.csv"
    assert counts(fresh_url) == before, "a rejected batch must not be half-written"
    good = importer.import_batch(chunk)
    assert good.ok, good.rejected[:3]
    after = counts(fresh_url)
    assert all(after[n] == before[n] + len(chunk[n]) for n in chunk)


def test_a_written_batch_leaves_one_audit_entry_per_table(fresh_url: str) -> None:
    clinics, chunk = small_registry(30)
    importer = Importer(fresh_url)
    assert importer.import_batch(clinics).ok
    assert importer.import_batch(chunk, sources=dict.fromkeys(chunk, "synth")).ok
    with engine_for(fresh_url).connect() as connection:
        entries = connection.execute(
            select(AuditEntry.entity, AuditEntry.after).where(AuditEntry.action == "import")
        ).all()
        scored = connection.execute(
            text("SELECT COUNT(*) FROM assessments WHERE scorable AND score IS NOT NULL")
        ).scalar()
    assessments = [after for entity, after in entries if entity == "assessment"]
    assert len(assessments) == 1
    assert assessments[0]["count"] == len(chunk["assessments"])
    assert assessments[0]["rows"] == [1, len(chunk["assessments"])]
    assert assessments[0]["source"] == "synth"
    assert len(entries) == len(clinics) + len(chunk)
    assert scored and scored > 0.9 * len(chunk["assessments"])


def test_ids_already_taken_and_broken_references_are_rejected(fresh_url: str) -> None:
    clinics, chunk = small_registry(10)
    importer = Importer(fresh_url)
    assert importer.import_batch(clinics).ok
    assert importer.import_batch(chunk).ok
    again = importer.import_batch({"sites": clinics["sites"]})
    assert {(r.row, r.reason) for r in again.rejected} == {
        (n, f"a record with id {i} already exists")
        for n, i in enumerate(clinics["sites"]["id"], start=1)
    }
    before = counts(fresh_url)
    orphan = chunk["conditions"].head(2).assign(id=[900001, 900002], patient_id=[800001, 3])
    result = importer.import_batch({"conditions": orphan})
    assert ("patient_id", "no patient with id 800001") in {
        (r.field, r.reason) for r in result.rejected if r.row == 1
    }
    assert counts(fresh_url) == before


def test_eligibility_warnings_equal_the_apis(fresh_url: str) -> None:
    from sqlalchemy.orm import Session

    from prolo.registry import rules
    from prolo.registry.models import TreatmentCourse

    importer = Importer(fresh_url)
    for tables in small_registry(400):
        assert importer.import_batch(tables).ok
    with Session(engine_for(fresh_url)) as session:
        courses = session.scalars(select(TreatmentCourse)).all()
        warned = 0
        for course in courses:
            values = {
                "patient_id": course.patient_id,
                "condition_id": course.condition_id,
                "start_date": course.start_date,
            }
            assert course.eligibility_warnings == rules.eligibility_warnings(session, values)
            warned += bool(course.eligibility_warnings)
    assert 0 < warned < len(courses)


def test_unique_keys_already_stored_are_rejected_and_new_ones_accepted(fresh_url: str) -> None:
    """The unique constraints against the database (one bound list per key column, the exact
    pairs matched in pandas): every stored key is found, and no new key is taken for one."""
    clinics, chunk = small_registry(10)
    importer = Importer(fresh_url)
    assert importer.import_batch(clinics).ok
    assert importer.import_batch(chunk).ok
    patients = chunk["patients"].drop(columns="id")
    # Stored keys (rows 1–10), then a stored external id at another site and new ids (11–20).
    other_site = patients.assign(site_id=clinics["sites"]["id"].iloc[-1])
    other_site = other_site[other_site["site_id"] != patients["site_id"]]
    again = pd.concat(
        [patients, other_site, patients.assign(external_id=[f"NEW-{i}" for i in range(10)])],
        ignore_index=True,
    )
    result = importer.import_batch({"patients": again}, dry_run=True)
    assert {(r.row, r.reason) for r in result.rejected} == {
        (n, "a record with this site_id and external_id already exists") for n in range(1, 11)
    }
    sites = clinics["sites"].drop(columns="id")
    result = importer.import_batch({"sites": sites}, dry_run=True)
    assert {r.reason for r in result.rejected} == {"a record with this code already exists"}
    assert len(result.rejected) == len(sites)
    links = clinics["practitioner_sites"].drop(columns="id")
    result = importer.import_batch({"practitioner_sites": links}, dry_run=True)
    assert len(result.rejected) == len(links)
    assert {r.reason for r in result.rejected} == {
        "a record with this practitioner_id and site_id already exists"
    }


def test_lookups_read_the_same_from_the_batch_and_from_the_database(fresh_url: str) -> None:
    """A reference resolved among the batch's own valid rows gives what the same rows give
    once stored: found, dates and ids alike (nulls and unknown ids not found)."""
    import numpy as np

    from prolo.interop.known import Known, Vocabularies
    from prolo.interop.tables import TABLE_ORDER
    from prolo.interop.validate import validate

    clinics, chunk = small_registry(10)
    importer = Importer(fresh_url)
    assert importer.import_batch(clinics).ok
    wanted = {
        "patients": ["birth_date", "site_id"],
        "conditions": ["onset_date", "patient_id"],
        "treatment_courses": ["start_date", "end_date", "patient_id"],
        "injection_sessions": ["course_id"],
    }
    probes = {
        table: pd.Series([*chunk[table]["id"].tolist()[::-1], None, 999_999], dtype="object")
        for table in wanted
    }
    engine = engine_for(fresh_url)
    with engine.connect() as connection:
        in_batch = Known(connection)
        vocabularies = Vocabularies(connection)
        for name in TABLE_ORDER:
            if name in chunk:
                frame = chunk[name]
                done = validate(
                    TABLES[name], frame, np.arange(1, len(frame) + 1), in_batch, vocabularies
                )
                assert done.problems.count() == 0
        from_batch = {t: in_batch.lookup(t, probes[t], c) for t, c in wanted.items()}
    assert importer.import_batch(chunk).ok
    with engine.connect() as connection:
        stored = Known(connection)
        for table, columns in wanted.items():
            pd.testing.assert_frame_equal(
                from_batch[table], stored.lookup(table, probes[table], columns)
            )
        assert from_batch["treatment_courses"]["found"].tolist()[-2:] == [False, False]

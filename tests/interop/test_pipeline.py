"""Validation overlapping writing: the same batches written, rejected and audited as one by one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select

from prolo.db import engine_for
from prolo.interop.bulk import BatchResult, Importer
from prolo.interop.pipeline import Pipeline, may_depend
from prolo.registry.models import AuditEntry
from prolo.synth.generate import Synthesis
from prolo.synth.params import load
from tests.interop.test_bulk import counts


def registry(patients: int) -> list[dict[str, pd.DataFrame]]:
    params = load()
    params["chunk_patients"] = 25
    return [tables for _, tables in Synthesis(patients, 7, params).batches()]


def test_batches_are_written_in_order_and_a_rejected_one_writes_nothing(fresh_url: str) -> None:
    batches = registry(100)
    assert len(batches) == 5  # the clinics, then four chunks of patients
    broken = {name: frame.copy() for name, frame in batches[2].items()}
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    broken["patients"].loc[4, "birth_date"] = pd.Timestamp(tomorrow)  # row 5
    batches[2] = broken
    results: list[BatchResult] = []
    importer = Importer(fresh_url)
    with importer.loading(), Pipeline(importer, results.append) as pipeline:
        queued = [pipeline.submit(tables) for tables in batches]
    assert queued == [True, True, False, True, True]
    assert [r.ok for r in results] == [True, True, False, True, True]  # in the order given
    assert ("patients", 5, "birth_date") in {(r.table, r.row, r.field) for r in results[2].rejected}
    written = counts(fresh_url)
    expected = [b for n, b in enumerate(batches) if n != 2]
    for name in written:
        assert written[name] == sum(len(b[name]) for b in expected if name in b), name
    with engine_for(fresh_url).connect() as connection:
        audited = connection.scalars(
            select(AuditEntry.after).where(AuditEntry.action == "import").order_by(AuditEntry.id)
        ).all()
    assert sum(a["count"] for a in audited if a["table"] == "patients") == written["patients"]


def test_a_batch_referring_to_the_one_in_flight_waits_for_it(fresh_url: str) -> None:
    """One table per batch, as a file import: every batch refers to the one before."""
    clinics, chunk = registry(25)
    batches = [clinics] + [{name: frame} for name, frame in chunk.items()]
    results: list[BatchResult] = []
    importer = Importer(fresh_url)
    with importer.loading(), Pipeline(importer, results.append) as pipeline:
        for tables in batches:
            assert pipeline.submit(tables)
    assert all(r.ok for r in results), [r.rejected[:3] for r in results if not r.ok]
    assert counts(fresh_url)["assessments"] == len(chunk["assessments"])


def test_what_may_depend_on_a_batch_in_flight() -> None:
    clinics, first, second = registry(50)
    assert may_depend(clinics, first)  # its courses' practitioners, the sites read whole
    assert not may_depend(first, second)  # new patients, their own courses
    assert may_depend(first, {"conditions": first["conditions"].assign(id=10**6)})
    assert may_depend({"injection_sessions": first["injection_sessions"]}, first)
    assert may_depend(first, {"patients": first["patients"]})  # the same ids again

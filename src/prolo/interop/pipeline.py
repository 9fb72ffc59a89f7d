"""Validate the next batch while this one is written: a writer thread, a queue of depth one.

A run of many batches (``prolo synth``, ``prolo import`` of files) spends its time in two
kinds of work: validating and scoring a batch (pandas, numpy: this process's CPU) and writing
it (SQLite or PostgreSQL doing the work; ``sqlite3`` and ``psycopg`` release the GIL while they
wait). :class:`Pipeline` does both at once: batch k is written on the writer thread, on its own
connection and in its own transaction, while batch k+1 is validated on another connection.

What stays as it was:

* each batch is one transaction, all or nothing, written in the order given;
* a batch with any rejected row writes nothing, and is reported as before;
* a batch is validated against a database that holds every batch before it. Batch k+1 is
  validated while batch k is not committed yet, so whenever it may depend on batch k
  (:func:`may_depend`: it refers to a row of batch k, reuses one of its ids or unique keys,
  or reads what batch k adds to — a course's injections, a patient's prior treatments, the
  practitioners' sites) the pipeline waits for batch k to commit and validates batch k+1
  again. When validation reads something new from the database, extend :func:`may_depend`.

A writer error (e.g. the connection dropped) is raised by the next call, and no batch after the
failed one is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.pool import QueuePool

from prolo.interop.bulk import BatchResult, Importer
from prolo.interop.tables import TABLES
from prolo.interop.validate import UNIQUE, Checked

# Reads of validation that aggregate a parent's children: (child table, its column) → the
# table whose rows in the next batch (by the column of the same name) read them.
CHILD_READS = {
    ("prior_treatments", "patient_id"): ("treatment_courses", "patient_id"),
    ("injection_sessions", "course_id"): ("assessments", "course_id"),
}
# Read whole by validation (a practitioner's sites).
READ_WHOLE = {"practitioner_sites"}


def _numbers(values: pd.Series) -> np.ndarray[Any, Any]:
    number = pd.to_numeric(values, errors="coerce")
    return np.asarray(number.dropna().to_numpy(dtype=np.float64))


@dataclass
class _InFlight:
    tables: dict[str, pd.DataFrame]  # the validated rows being written
    future: Future[BatchResult]


def may_depend(written: Mapping[str, pd.DataFrame], frames: Mapping[str, pd.DataFrame]) -> bool:
    """Whether validating ``frames`` could read anything the batch ``written`` adds: a row it
    refers to, an id it takes, rows of a table read whole, or children of a parent it reads.
    Conservative: a false "yes" only costs the overlap of one batch."""
    if not written:
        return False
    ids = {name: _numbers(rows["id"]) for name, rows in written.items() if len(rows)}
    if any(name in READ_WHOLE for name in ids):
        return True
    for name, frame in frames.items():
        # (column, table whose ids it holds): the rows' own ids, then each reference.
        references = [("id", name)] + [
            (key.parent.name, key.column.table.name) for key in TABLES[name].table.foreign_keys
        ]
        for column, table in references:
            if (
                column in frame.columns
                and table in ids
                and np.isin(_numbers(frame[column]), ids[table]).any()
            ):
                return True
    for (child, column), (reader, by) in CHILD_READS.items():
        if child in written and reader in frames and by in frames[reader].columns:
            touched = _numbers(written[child][column])
            if np.isin(_numbers(frames[reader][by]), touched).any():
                return True
    return False


def unique_clash(written: Mapping[str, pd.DataFrame], checked: list[Checked]) -> bool:
    """Whether a validated row repeats a unique key of the batch being written (which its
    validation could not see in the database)."""
    for done in checked:
        name = done.spec.name
        columns = UNIQUE.get(name)
        if columns is None or name not in written or done.rows.empty or written[name].empty:
            continue
        mine = pd.MultiIndex.from_frame(done.rows[list(columns)].astype(str))
        theirs = pd.MultiIndex.from_frame(written[name][list(columns)].astype(str))
        if mine.isin(theirs).any():
            return True
    return False


@dataclass
class Pipeline:
    """Batches of one run through one :class:`Importer`, validation overlapping writing.

    Use as a context manager; :meth:`submit` returns the result of a batch rejected at
    validation at once, and the results of written batches in order through ``on_result``
    (called on the caller's thread, from :meth:`submit` or when the block ends)."""

    importer: Importer
    on_result: Callable[[BatchResult], None]
    _pool: ThreadPoolExecutor = field(init=False)
    _in_flight: _InFlight | None = field(default=None, init=False)
    _overlap: bool = field(default=True, init=False)

    def __enter__(self) -> Pipeline:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prolo-writer")
        # Two connections at once, from a pool that gives every thread the same database:
        # not an in-memory SQLite database (one per thread) nor a pool of one.
        pool = self.importer.engine.pool
        self._overlap = isinstance(pool, QueuePool) and pool.size() >= 2
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if error is None:
                self._wait()
            elif self._in_flight is not None:
                self._in_flight.future.exception()  # let it finish (or fail); the error wins
        finally:
            self._pool.shutdown(wait=True)

    def submit(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        rows: Mapping[str, np.ndarray[Any, Any]] | None = None,
        sources: Mapping[str, str] | None = None,
        on_write: Callable[[Connection], None] | None = None,
    ) -> bool:
        """Validate the batch and queue it for writing (True), or report its rejection
        (False). Waits for the batch before it to be written first."""
        importer = self.importer
        importer.check_tables(frames)
        frames = importer.with_ids(frames)
        written = self._in_flight.tables if self._in_flight is not None else {}
        if may_depend(written, frames):
            self._wait()
            written = {}
        checked, result = self._validate(frames, rows, sources)
        if not result.rejected and unique_clash(written, checked):
            self._wait()
            checked, result = self._validate(frames, rows, sources)
        if result.rejected:
            # Reported after the batches before it, as a serial run would.
            self._wait()
            self.on_result(result)
            return False
        self._wait()
        if not self._overlap:
            self.on_result(self._write(checked, result, sources, on_write))
            return True
        future = self._pool.submit(self._write, checked, result, sources, on_write)
        self._in_flight = _InFlight({c.spec.name: c.rows for c in checked}, future)
        return True

    def _validate(
        self,
        frames: Mapping[str, pd.DataFrame],
        rows: Mapping[str, np.ndarray[Any, Any]] | None,
        sources: Mapping[str, str] | None,
    ) -> tuple[list[Checked], BatchResult]:
        with self.importer.engine.connect() as connection:
            try:
                return self.importer.validate_batch(connection, frames, rows=rows, sources=sources)
            finally:
                connection.rollback()

    def _write(
        self,
        checked: list[Checked],
        result: BatchResult,
        sources: Mapping[str, str] | None,
        on_write: Callable[[Connection], None] | None,
    ) -> BatchResult:
        with self.importer.writing() as connection:
            self.importer.write_batch(
                connection, checked, result, sources=sources, on_write=on_write
            )
        return result

    def _wait(self) -> None:
        """Until the batch being written is committed; its result to ``on_result``."""
        if self._in_flight is None:
            return
        in_flight, self._in_flight = self._in_flight, None
        self.on_result(in_flight.future.result())  # a writer's error is raised here

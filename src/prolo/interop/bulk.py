"""The bulk import path, shared by real data (``prolo import``) and synthetic registries.

A **batch** is a set of tables (rows of several files, or one chunk of synthetic patients)
written in one transaction. Every row is validated with the API's rules (:mod:`validate`);
if any row of a batch is rejected, the batch writes nothing and every rejected row is
reported with its table, row number and reason — the file is fixed and imported again, never
half-written. A written batch leaves one audit entry per table (who, when, table, row range,
ids, count, source file) rather than one per row: a million per-row entries would double the
size of the database and say nothing the batch entry does not.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select

from prolo.db import engine_for
from prolo.errors import DomainError, FieldError
from prolo.followup.schedule import DEFAULT, Schedule
from prolo.interop import bulk_mode, writer
from prolo.interop.known import Known, Vocabularies
from prolo.interop.problems import Rejection
from prolo.interop.tables import TABLE_ORDER, TABLES
from prolo.interop.validate import Checked, validate
from prolo.registry.models import AuditEntry
from prolo.security.policy import WRITE, authorize
from prolo.security.principal import Principal, system

# Every table a run writes in bulk: the import tables and the due questionnaires of new courses.
LOADED_TABLES = [*(TABLES[name].table.name for name in TABLE_ORDER), "due_questionnaires"]


@dataclass
class BatchResult:
    written: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # validate + write, per table

    @property
    def ok(self) -> bool:
        return not self.rejected


@dataclass
class ImportReport:
    written: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    batches_written: int = 0
    batches_rejected: int = 0

    def add(self, result: BatchResult) -> None:
        for table, count in result.written.items():
            self.written[table] = self.written.get(table, 0) + count
        self.rejected.extend(result.rejected)
        for table, spent in result.seconds.items():
            self.seconds[table] = self.seconds.get(table, 0.0) + spent
        if result.ok:
            self.batches_written += 1
        else:
            self.batches_rejected += 1


class Importer:
    """Validates and writes batches into one database, numbering new rows as it goes."""

    def __init__(
        self,
        url: str,
        *,
        actor: Principal | None = None,
        schedule: Schedule = DEFAULT,
        engine: Engine | None = None,
    ) -> None:
        self.actor = actor or system("import")
        for spec in TABLES.values():
            authorize(self.actor, spec.entity, WRITE)
        self.engine = engine or engine_for(url)
        self.schedule = schedule
        self._next: dict[str, int] = {}
        self._vocab: Vocabularies | None = None
        # Rows this importer wrote per table, and how many of them PostgreSQL's statistics had
        # seen at the last ANALYZE (see _analyze).
        self._written: dict[str, int] = {}
        self._analyzed: dict[str, int] = {}
        self._foreign_keys_off = False

    @contextmanager
    def loading(self, *, bulk: bool = True) -> Iterator[bulk_mode.Dropped]:
        """A run of many batches (``prolo import``, ``prolo synth``): the tables it finds
        empty are loaded in bulk-load mode (:mod:`bulk_mode`); missing indexes or foreign keys
        (a run killed part-way) are restored at the start and the end."""
        with bulk_mode.loading(self.engine, LOADED_TABLES, enabled=bulk) as dropped:
            # SQLite checks a foreign key per row written; validation has checked every
            # reference already, and the end of the load checks them all once more.
            self._foreign_keys_off = bool(dropped.tables) and self.engine.dialect.name == "sqlite"
            try:
                yield dropped
            finally:
                self._foreign_keys_off = False
            if dropped.tables and self.engine.dialect.name == "sqlite":
                bulk_mode.check_foreign_keys(self.engine, LOADED_TABLES)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in a new transaction for one batch (committed when the block ends,
        rolled back on an error); in a SQLite bulk load, with foreign keys not enforced."""
        if not self._foreign_keys_off:
            with self.engine.begin() as connection:
                yield connection
            return
        with self.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction
            try:
                with connection.begin():
                    yield connection
            finally:
                driver.execute("PRAGMA foreign_keys=ON")

    def next_ids(self, table: str, count: int) -> np.ndarray[Any, Any]:
        """``count`` fresh ids for ``table``, above every id in the database and given so far."""
        if table not in self._next:
            t = TABLES[table].table
            with self.engine.connect() as connection:
                self._next[table] = int(connection.scalar(select(func.max(t.c.id))) or 0) + 1
        start = self._next[table]
        self._next[table] = start + count
        return np.arange(start, start + count, dtype=np.int64)

    def first_free(self, table: str) -> int:
        """The next id :meth:`next_ids` would give for ``table``."""
        self.next_ids(table, 0)
        return self._next[table]

    def reserve(self, table: str, ids: pd.Series) -> None:
        """Ids a file chose itself are no longer free for :meth:`next_ids`."""
        if len(ids) and ids.notna().any():
            top = int(pd.to_numeric(ids, errors="coerce").max()) + 1
            self.next_ids(table, 0)
            self._next[table] = max(self._next[table], top)

    def import_batch(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        rows: Mapping[str, np.ndarray[Any, Any]] | None = None,
        sources: Mapping[str, str] | None = None,
        dry_run: bool = False,
        on_write: Callable[[Connection], None] | None = None,
    ) -> BatchResult:
        """Validate every table of the batch, then write all of it or nothing (nothing at
        all with ``dry_run``: validation only, as ``prolo import --check``). ``on_write`` runs
        in the batch's transaction after its rows are written (e.g. to record their keys in
        the system they came from)."""
        self.check_tables(frames)
        sources = sources or {}
        with self.writing() as connection:
            checked, result = self.validate_batch(connection, frames, rows=rows, sources=sources)
            if result.rejected or dry_run:
                connection.rollback()
                if dry_run and not result.rejected:
                    result.written = {c.spec.name: len(c.rows) for c in checked}
                return result
            self.write_batch(connection, checked, result, sources=sources, on_write=on_write)
        return result

    def check_tables(self, frames: Mapping[str, pd.DataFrame]) -> None:
        unknown = [name for name in frames if name not in TABLES]
        if unknown:
            raise DomainError(
                "Unknown table",
                [FieldError("table", f"{', '.join(unknown)} (known: {', '.join(TABLE_ORDER)})")],
            )

    def with_ids(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """The batch's frames, each with its ids (fresh ones where a file gave none)."""
        return {name: self._with_ids(name, frames[name]) for name in TABLE_ORDER if name in frames}

    def validate_batch(
        self,
        connection: Connection,
        frames: Mapping[str, pd.DataFrame],
        *,
        rows: Mapping[str, np.ndarray[Any, Any]] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> tuple[list[Checked], BatchResult]:
        """Every table of the batch checked against ``connection``'s database; nothing written."""
        rows = rows or {}
        sources = sources or {}
        result = BatchResult()
        if self._vocab is None:
            self._vocab = Vocabularies(connection)
        known = Known(connection)
        checked: list[Checked] = []
        for name in TABLE_ORDER:
            if name not in frames:
                continue
            started = time.perf_counter()
            frame = self._with_ids(name, frames[name])
            numbers = rows.get(name, np.arange(1, len(frame) + 1))
            done = validate(
                TABLES[name],
                frame,
                numbers,
                known,
                self._vocab,
                source=sources.get(name, ""),
                schedule=self.schedule,
            )
            checked.append(done)
            result.seconds[name] = time.perf_counter() - started
            result.rejected.extend(done.problems.rejections())
        return checked, result

    def write_batch(
        self,
        connection: Connection,
        checked: list[Checked],
        result: BatchResult,
        *,
        sources: Mapping[str, str] | None = None,
        on_write: Callable[[Connection], None] | None = None,
    ) -> None:
        """Write a validated batch in ``connection``'s transaction (the caller commits)."""
        self._write(connection, checked, sources or {}, result.seconds)
        if on_write is not None:
            on_write(connection)
        result.written = {c.spec.name: len(c.rows) for c in checked}

    def _with_ids(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        if "id" in frame.columns:
            self.reserve(name, frame["id"])
            return frame
        return frame.assign(id=self.next_ids(name, len(frame)))

    def _write(
        self,
        connection: Connection,
        checked: list[Checked],
        sources: Mapping[str, str],
        seconds: dict[str, float],
    ) -> None:
        stamp = dt.datetime.now(dt.UTC)
        for done in checked:
            started = time.perf_counter()
            table = done.spec.table
            writer.write(connection, table, done.rows, stamp)
            writer.bump_sequence(connection, table)
            if len(done.rows):
                connection.execute(insert(AuditEntry), [self._audit(done, stamp, sources)])
            seconds[done.spec.name] += time.perf_counter() - started
        courses = next((d.rows for d in checked if d.spec.name == "treatment_courses"), None)
        if courses is not None and len(courses):
            from prolo.followup.backfill import create_for_batch

            started = time.perf_counter()
            of_batch = {d.spec.name: d.rows for d in checked}
            create_for_batch(
                connection,
                courses,
                of_batch.get("injection_sessions"),
                of_batch.get("conditions"),
                of_batch.get("assessments"),
                self.schedule,
            )
            seconds["due_questionnaires"] = time.perf_counter() - started
        self._analyze(connection, checked)

    def _analyze(self, connection: Connection, checked: list[Checked]) -> None:
        """Fresh statistics after a bulk load: without them PostgreSQL plans the next batch's
        lookups and the extraction's joins as if the tables were empty (seen: 7 minutes instead
        of 3 s at 100k courses). A table is analysed when this importer has at least doubled
        what the last ANALYZE saw, so a run of n batches analyses each table O(log n) times
        rather than after every batch."""
        if connection.dialect.name != "postgresql":
            return
        for done in checked:
            name = done.spec.table.name
            self._written[name] = self._written.get(name, 0) + len(done.rows)
            if name not in self._analyzed or self._written[name] >= 2 * self._analyzed[name]:
                connection.exec_driver_sql(f"ANALYZE {name}")
                self._analyzed[name] = self._written[name]

    def _audit(
        self, done: Checked, stamp: dt.datetime, sources: Mapping[str, str]
    ) -> dict[str, Any]:
        ids = done.rows["id"]
        numbers = done.problems.rows
        return {
            "at": stamp,
            "actor": self.actor.username,
            "action": "import",
            "entity": done.spec.entity,
            "entity_id": None,
            "before": None,
            "after": {
                "table": done.spec.name,
                "count": len(done.rows),
                "rows": [int(numbers.min()), int(numbers.max())],
                "ids": [int(ids.min()), int(ids.max())],
                "source": sources.get(done.spec.name, ""),
            },
            "reason": "bulk import",
        }

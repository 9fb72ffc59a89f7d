"""Bulk-load mode: load empty tables without their secondary indexes and (on PostgreSQL)
foreign keys, then build them once at the end.

Measured on PostgreSQL (129k assessment rows, ``COPY``): 0.70 s into the bare table, 2.77 s
with its five indexes, 5.15 s with its two foreign keys as well. Maintaining an index row by
row, and firing a foreign-key trigger per row, is most of a bulk write; building the index
once by sorting, and validating a foreign key with one join (``ADD CONSTRAINT``), is not.

What is never dropped: primary keys and unique indexes/constraints (the import's own checks
and the database's last word on duplicates), and the few indexes the import path itself reads
by while it loads (:data:`READ_DURING_LOAD`). Validation checks every reference of every row
(:mod:`prolo.interop.validate`), so the foreign keys are only re-checked, never relied upon,
while the tables fill.

Crash safety: a process killed mid-load leaves tables without some indexes or foreign keys.
:func:`ensure_schema_objects` recreates whatever the SQLAlchemy metadata declares and the
database lacks; it runs at the start and end of every import and synthetic run, when the
database is initialised or migrated, and when ``prolo serve`` starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, ForeignKeyConstraint, Index, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import AddConstraint

from prolo.models import metadata

log = logging.getLogger(__name__)

# The import path reads these while it loads (validate.py: a course's failed non-surgical
# treatments by patient, an assessment's first injection by course). Without them each such
# read scans the whole table, once per batch: quadratic.
READ_DURING_LOAD = frozenset({"ix_prior_treatments_patient_id", "ix_injection_sessions_first"})


@dataclass
class Dropped:
    """What a bulk load took away, and must put back."""

    indexes: list[str] = field(default_factory=list)
    foreign_keys: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


def droppable_indexes(table_name: str) -> list[Index]:
    table = metadata.tables[table_name]
    return sorted(
        (i for i in table.indexes if not i.unique and i.name not in READ_DURING_LOAD),
        key=lambda i: str(i.name),
    )


def _empty(connection: Connection, table_name: str) -> bool:
    table = metadata.tables[table_name]
    return connection.execute(select(table.c.id).limit(1)).first() is None


def _present_indexes(connection: Connection) -> dict[str, set[str]]:
    found = inspect(connection).get_multi_indexes()
    return {table: {str(i["name"]) for i in rows} for (_, table), rows in found.items()}


def _present_foreign_keys(connection: Connection) -> dict[str, set[str]]:
    found = inspect(connection).get_multi_foreign_keys()
    return {
        table: {str(f["name"]) for f in rows if f["name"]} for (_, table), rows in found.items()
    }


def _present_columns(connection: Connection) -> dict[str, set[str]]:
    found = inspect(connection).get_multi_columns()
    return {table: {str(c["name"]) for c in rows} for (_, table), rows in found.items()}


def missing_schema_objects(
    connection: Connection,
) -> tuple[list[Index], list[ForeignKeyConstraint]]:
    """Indexes and (on PostgreSQL) foreign keys the metadata declares and the database lacks.

    Only for tables (and columns) that exist: a database at an older revision is the
    migrations' business, not this function's."""
    columns = _present_columns(connection)
    indexes = _present_indexes(connection)
    missing_indexes = [
        index
        for table in metadata.sorted_tables
        if table.name in columns
        for index in table.indexes
        if str(index.name) not in indexes.get(table.name, set())
        and {c.name for c in index.columns} <= columns[table.name]
    ]
    missing_keys: list[ForeignKeyConstraint] = []
    if connection.dialect.name == "postgresql":
        # SQLite's foreign keys are part of the table's definition: never dropped (a bulk load
        # there turns their enforcement off on its own connection instead).
        keys = _present_foreign_keys(connection)
        missing_keys = [
            key
            for table in metadata.sorted_tables
            if table.name in columns
            for key in table.foreign_key_constraints
            if str(key.name) not in keys.get(table.name, set())
            and key.referred_table.name in columns
            and {c.name for c in key.columns} <= columns[table.name]
        ]
    return missing_indexes, missing_keys


def ensure_schema_objects(engine: Engine) -> list[str]:
    """Create every metadata-declared index and (PostgreSQL) foreign key that is missing, e.g.
    after a bulk load was killed part-way. Idempotent; returns the names it created."""
    with engine.begin() as connection:
        return _create_missing(connection)


def _create_missing(connection: Connection) -> list[str]:
    indexes, keys = missing_schema_objects(connection)
    if not indexes and not keys:
        return []
    if connection.dialect.name == "postgresql":
        # Index builds sort; the default 64 MB spills a million-row sort to disk.
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
    created = []
    for index in indexes:
        started = time.perf_counter()
        index.create(connection)
        log.info("created index %s (%.1f s)", index.name, time.perf_counter() - started)
        created.append(str(index.name))
    for key in keys:
        started = time.perf_counter()
        # One pass over the table validates every row (a join), instead of a trigger per row.
        connection.execute(AddConstraint(key))
        log.info("added foreign key %s (%.1f s)", key.name, time.perf_counter() - started)
        created.append(str(key.name))
    return created


def _drop(connection: Connection, table_names: Iterable[str]) -> Dropped:
    dropped = Dropped()
    present = _present_indexes(connection)
    keys = _present_foreign_keys(connection) if connection.dialect.name == "postgresql" else {}
    quote = connection.dialect.identifier_preparer.quote
    for name in table_names:
        if not _empty(connection, name):
            continue
        dropped.tables.append(name)
        for index in droppable_indexes(name):
            if str(index.name) in present.get(name, set()):
                connection.exec_driver_sql(f"DROP INDEX {quote(str(index.name))}")
                dropped.indexes.append(str(index.name))
        for key in sorted(metadata.tables[name].foreign_key_constraints, key=lambda k: str(k.name)):
            if str(key.name) in keys.get(name, set()):
                connection.exec_driver_sql(
                    f"ALTER TABLE {quote(name)} DROP CONSTRAINT {quote(str(key.name))}"
                )
                dropped.foreign_keys.append(str(key.name))
    return dropped


def check_foreign_keys(engine: Engine, table_names: Iterable[str]) -> None:
    """SQLite: every row of ``table_names`` refers to rows that exist, or ``IntegrityError``
    naming the first offenders (after a load with foreign keys not enforced)."""
    problems: list[str] = []
    with engine.connect() as connection:
        for name in table_names:
            found = connection.exec_driver_sql(f"PRAGMA foreign_key_check({name})").fetchmany(5)
            problems.extend(f"{row[0]} row {row[1]} → {row[2]}" for row in found)
    if problems:
        raise IntegrityError(
            "PRAGMA foreign_key_check", {}, Exception("broken references: " + "; ".join(problems))
        )


@contextmanager
def loading(
    engine: Engine, table_names: Iterable[str], *, enabled: bool = True
) -> Iterator[Dropped]:
    """Load into ``table_names``: those that are empty lose their secondary indexes (and on
    PostgreSQL their foreign keys) until the block ends — however it ends — and then get them
    back, built in one pass each; PostgreSQL then gathers fresh statistics.

    Every batch inside stays one transaction of its own. With ``enabled=False`` only the
    crash repair at the start and end runs."""
    ensure_schema_objects(engine)
    names = list(table_names)
    dropped = Dropped()
    if enabled:
        with engine.begin() as connection:
            dropped = _drop(connection, names)
        if dropped.tables:
            log.info(
                "bulk load into %s: %d indexes, %d foreign keys dropped until the end",
                ", ".join(dropped.tables),
                len(dropped.indexes),
                len(dropped.foreign_keys),
            )
    try:
        yield dropped
    finally:
        ensure_schema_objects(engine)
        if engine.dialect.name == "postgresql" and dropped.tables:
            with engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT")
                for name in dropped.tables:
                    connection.execute(text(f"ANALYZE {name}"))

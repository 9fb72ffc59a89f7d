"""Bulk-load mode: empty tables load without secondary indexes (and PostgreSQL foreign keys),
which come back afterwards exactly as the migrations made them — also after a crash."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from prolo.interop.bulk import LOADED_TABLES, Importer
from prolo.interop.bulk_mode import (
    READ_DURING_LOAD,
    droppable_indexes,
    ensure_schema_objects,
    loading,
    missing_schema_objects,
)
from prolo.models import metadata
from prolo.synth.params import load
from prolo.synth.run import to_database


def _schema(engine: Engine) -> dict[str, Any]:
    """Every index (name, columns, unique) and foreign key (name, columns, target) by table."""
    inspector = inspect(engine)
    indexes = {
        table: sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in rows)
        for (_, table), rows in inspector.get_multi_indexes().items()
    }
    keys = {
        table: sorted(
            (
                f["name"],
                tuple(f["constrained_columns"]),
                f["referred_table"],
                tuple(f["referred_columns"]),
            )
            for f in rows
        )
        for (_, table), rows in inspector.get_multi_foreign_keys().items()
    }
    return {"indexes": indexes, "foreign_keys": keys}


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_a_bulk_load_drops_secondary_indexes_and_puts_them_back(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    fresh = _schema(engine)
    try:
        with loading(engine, LOADED_TABLES) as dropped:
            during = _schema(engine)
            assert "ix_assessments_extract" in dropped.indexes
            names = {n for rows in during["indexes"].values() for n, _, _ in rows}
            assert "ix_assessments_extract" not in names
            # Unique indexes, primary keys and the indexes the import reads by stay.
            assert set(READ_DURING_LOAD) <= names
            assert not any(i.unique for t in LOADED_TABLES for i in droppable_indexes(t))
            if engine.dialect.name == "postgresql":
                assert "fk_assessments_course_id_treatment_courses" in dropped.foreign_keys
                assert during["foreign_keys"]["assessments"] == []
            else:
                assert dropped.foreign_keys == []  # SQLite's are part of the table
        assert _schema(engine) == fresh
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_a_table_with_rows_keeps_its_indexes(fresh_url: str) -> None:
    to_database(fresh_url, 20, 3, load())
    engine = create_engine(fresh_url)
    try:
        with loading(engine, ["patients", "assessments"]) as dropped:
            assert dropped.tables == [] and dropped.indexes == []
    finally:
        engine.dispose()


def test_missing_indexes_and_keys_are_recreated(fresh_url: str) -> None:
    """What a bulk load killed part-way leaves behind is repaired by one idempotent call."""
    engine = create_engine(fresh_url)
    fresh = _schema(engine)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_assessments_extract")
            connection.exec_driver_sql("DROP INDEX ix_patients_updated_at")
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(
                    "ALTER TABLE assessments DROP CONSTRAINT fk_assessments_patient_id_patients"
                )
        with engine.connect() as connection:
            indexes, keys = missing_schema_objects(connection)
        assert {str(i.name) for i in indexes} == {
            "ix_assessments_extract",
            "ix_patients_updated_at",
        }
        assert len(keys) == (1 if engine.dialect.name == "postgresql" else 0)
        created = ensure_schema_objects(engine)
        assert "ix_assessments_extract" in created
        assert _schema(engine) == fresh
        assert ensure_schema_objects(engine) == []  # idempotent
    finally:
        engine.dispose()


def test_a_synthetic_run_leaves_the_schema_of_a_fresh_migration(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    fresh = _schema(engine)
    try:
        report = to_database(fresh_url, 60, 11, load())
        assert report.rows["assessments"] > 0
        assert _schema(engine) == fresh
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_a_failed_run_still_puts_the_indexes_back(fresh_url: str) -> None:
    engine = create_engine(fresh_url)
    fresh = _schema(engine)
    importer = Importer(fresh_url)
    try:
        with pytest.raises(RuntimeError), importer.loading():
            assert missing_schema_objects(engine.connect())[0]
            raise RuntimeError("the run failed")
        assert _schema(engine) == fresh
    finally:
        engine.dispose()


def test_sqlite_checks_every_reference_after_a_load_without_enforcing_them(
    fresh_url: str,
) -> None:
    from sqlalchemy.exc import IntegrityError

    if not fresh_url.startswith("sqlite"):
        pytest.skip("PostgreSQL re-adds its foreign keys, which validates them")
    importer = Importer(fresh_url)
    with (
        pytest.raises(IntegrityError, match="broken references: conditions row 1"),
        importer.loading(),
        importer.writing() as connection,
    ):
        # What only a bug could write: validation refuses it, the load's last check too.
        connection.exec_driver_sql(
            "INSERT INTO conditions (id, patient_id, region, icd10_code, diagnosis_confirmation,"
            " onset_date, created_at, updated_at)"
            " VALUES (1, 999, 'x', 'x', 'x', '2026-01-01', '2026-01-01', '2026-01-01')"
        )

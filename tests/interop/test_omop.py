"""OMOP CDM 5.4: the CSV files load into DuckDB with the CDM's column types and NOT NULLs, and
hold what the registry holds (persons, ICD-10-CM source codes, sessions, agents, courses)."""

from __future__ import annotations

import duckdb
import pytest
from sqlalchemy import text

from prolo.db import engine_for
from prolo.interop import omop

KEY = b"omop test key"


@pytest.fixture(scope="module")
def loaded(
    synthetic_registry: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[duckdb.DuckDBPyConnection, omop.OmopReport]:
    out = tmp_path_factory.mktemp("omop")
    report = omop.export(synthetic_registry, out, key=KEY)
    connection = duckdb.connect()
    connection.execute(omop.ddl())
    for table in omop.COLUMNS:
        connection.execute(f"COPY {table} FROM '{out / (table + '.csv')}' (HEADER true)")
    return connection, report


def registry(url: str, sql: str) -> list[tuple[object, ...]]:
    with engine_for(url).connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def test_every_file_loads_with_the_cdm_types(
    loaded: tuple[duckdb.DuckDBPyConnection, omop.OmopReport],
) -> None:
    connection, report = loaded
    for table, columns in omop.COLUMNS.items():
        count = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        assert count is not None and count[0] == report.rows[table], table
        types = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_name = '{table}'"
            ).fetchall()
        )
        assert list(types) == [c for c, _, _ in columns]
        for name, kind, _ in columns:
            expected = {"integer": "INTEGER", "date": "DATE", "TIMESTAMP": "TIMESTAMP"}.get(kind)
            if expected:
                assert types[name] == expected, (table, name)
    assert report.rows["person"] == 50 and report.rows["episode"] == 50


def test_the_files_hold_the_registry(
    synthetic_registry: str, loaded: tuple[duckdb.DuckDBPyConnection, omop.OmopReport]
) -> None:
    connection, _ = loaded
    icd = registry(synthetic_registry, "SELECT id, icd10_code FROM conditions ORDER BY id")
    assert connection.execute(
        "SELECT condition_occurrence_id, condition_source_value FROM condition_occurrence "
        "ORDER BY 1"
    ).fetchall() == [(int(i), str(c)) for i, c in icd]
    assert connection.execute(
        "SELECT COUNT(*) FROM condition_occurrence WHERE condition_concept_id <> 0"
    ).fetchone() == (0,)
    sessions, anesthetised = registry(
        synthetic_registry,
        "SELECT COUNT(*), SUM(CASE WHEN anesthetic <> 'none' THEN 1 ELSE 0 END) "
        "FROM injection_sessions",
    )[0]
    assert connection.execute("SELECT COUNT(*) FROM visit_occurrence").fetchone() == (sessions,)
    drugs = connection.execute("SELECT COUNT(*) FROM drug_exposure").fetchone()
    assert drugs == (int(sessions) + int(anesthetised),)  # type: ignore[call-overload]
    females = registry(synthetic_registry, "SELECT COUNT(*) FROM patients WHERE sex = 'female'")
    assert connection.execute(
        "SELECT COUNT(*) FROM person WHERE gender_concept_id = 8532"
    ).fetchone() == (females[0][0],)
    orphans = connection.execute(
        "SELECT COUNT(*) FROM episode_event e WHERE NOT EXISTS (SELECT 1 FROM procedure_occurrence "
        "p WHERE p.procedure_occurrence_id = e.event_id AND e.episode_event_field_concept_id = "
        "1147082) AND NOT EXISTS (SELECT 1 FROM drug_exposure d WHERE d.drug_exposure_id = "
        "e.event_id AND e.episode_event_field_concept_id = 1147094)"
    ).fetchone()
    assert orphans == (0,)
    outside = connection.execute(
        "SELECT COUNT(*) FROM measurement m JOIN observation_period o USING (person_id) "
        "WHERE m.measurement_date NOT BETWEEN o.observation_period_start_date "
        "AND o.observation_period_end_date"
    ).fetchone()
    assert outside == (0,)
    levels = connection.execute(
        "SELECT procedure_source_value, modifier_source_value FROM procedure_occurrence "
        "WHERE procedure_source_value LIKE '% L%' LIMIT 1"
    ).fetchall()
    assert levels and levels[0][1] in ("left", "right", "bilateral", "midline")
    mapped = connection.execute(
        "SELECT COUNT(*) FROM source_to_concept_map WHERE source_vocabulary_id = 'PROLO agent' "
        "AND source_code = 'dextrose'"
    ).fetchone()
    assert mapped == (1,)

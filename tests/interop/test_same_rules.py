""" "Same rules": randomly corrupted rows go through the bulk path and, one by one, through
``registry.service.create`` (the API's path); both must accept and reject the same rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from prolo.assessments import service as assessments
from prolo.assessments.schemas import AssessmentCreate
from prolo.db import engine_for, session_factory
from prolo.errors import DomainError
from prolo.followup.schedule import DEFAULT
from prolo.interop.bulk import Importer
from prolo.interop.tables import ORDER, TABLES
from prolo.interop.validate import UNIQUE
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from prolo.security.principal import system
from prolo.synth.generate import Synthesis
from prolo.synth.params import load

ACTOR = system("same-rules test")
FUTURE = pd.Timestamp(dt.date.today() + dt.timedelta(days=30))
ROWS_PER_TABLE = 60


def corrupt(rng: np.random.Generator, frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Copies of valid rows with new ids; about two in three get one random corruption."""
    rows = frame.sample(n=ROWS_PER_TABLE, replace=True, random_state=int(rng.integers(1 << 30)))
    rows = rows.reset_index(drop=True).astype(object)
    rows["id"] = 700_000 + np.arange(len(rows))
    if "external_id" in rows:
        rows["external_id"] = [f"NEW{i}" for i in range(len(rows))]
    if "code" in rows:
        rows["code"] = [f"NEW{i}" for i in range(len(rows))]
    # ``source`` is the import's own column (the API sets it from the channel): not compared.
    columns = [c for c in rows.columns if c not in ("id", "source")]
    for i in range(len(rows)):
        if rng.random() < 0.35:
            continue
        column = columns[int(rng.integers(len(columns)))]
        bad = _bad_value(rng, rows.at[i, column], column, frame)
        rows.at[i, column] = bad
    if table in UNIQUE:  # rows are compared one by one: no key twice within the batch
        rows = rows.drop_duplicates(subset=list(UNIQUE[table])).reset_index(drop=True)
    return rows


def _bad_value(rng: np.random.Generator, value: Any, column: str, frame: pd.DataFrame) -> Any:
    if column.endswith("_id"):
        options: list[Any] = [999_999, None, *frame[column].dropna().unique()[:5].tolist()]
    elif isinstance(value, pd.Timestamp):
        options = [FUTURE, value - pd.Timedelta(days=9000), value + pd.Timedelta(days=400), None]
    elif column == "targets":
        options = [
            '[{"target": "bogus", "levels": [], "side": "left"}]',
            "[]",
            '[{"target": "nuchal_ligament", "levels": ["L9-L10"], "side": "midline"}]',
        ]
    elif column == "items":
        options = ["[11]", "[1,2]", '["maybe"]', "[true]", "not json", "[1,2,3,4,5,0,1,2,3,4]"]
    elif column == "instrument":
        options = ["EQ5D", "odi", "NRS", None]
    elif column == "icd10_code":
        options = ["lumbago", "m54.5", "U07.1", ""]
    elif isinstance(value, bool | np.bool_):
        options = [None, not value]
    elif isinstance(value, int | float | np.integer | np.floating):
        options = [-1, 0, 0.5, 60.0, 600, 1e7, None]
    else:
        options = ["bogus", "  ", "x" * 300, None, "other"]
    return options[int(rng.integers(len(options)))]


def service_accepts(session: Session, table: str, row: pd.Series) -> bool:
    return api_reason(session, table, row) is None


def api_reason(session: Session, table: str, row: pd.Series) -> str | None:
    """None when the API's service accepts the row, else why it refuses it."""
    entity = ENTITIES.get(TABLES[table].entity)
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key == "id" or value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        if value is pd.NaT:
            continue
        if isinstance(value, pd.Timestamp):
            value = value.date()
        elif key == "targets":
            value = json.loads(value)
        elif isinstance(value, np.generic):
            value = value.item()
        values[str(key)] = value
    nested = session.begin_nested()
    try:
        if table == "assessments":
            values["items"] = json.loads(values["items"])  # not JSON: the API's edge refuses
            source = values.pop("source", "import")
            data = AssessmentCreate(**values)
            assessments.create(session, data, actor=ACTOR, source=source, schedule=DEFAULT)
        else:
            service.create(session, entity, entity.create(**values), actor=ACTOR)
        return None
    except (ValidationError, DomainError, json.JSONDecodeError) as error:
        return str(error)
    finally:
        nested.rollback()


@pytest.mark.slow
def test_bulk_and_api_accept_and_reject_the_same_rows(fresh_url: str) -> None:
    synthesis = Synthesis(60, 11, load())
    batches = [tables for _, tables in synthesis.batches()]
    importer = Importer(fresh_url)
    for tables in batches:
        assert importer.import_batch(tables).ok
    everything = {
        name: pd.concat([b[name] for b in batches if name in b])
        for name in TABLES
        if any(name in b for b in batches)
    }
    rng = np.random.default_rng(5)
    compared = rejected_somewhere = 0
    session = session_factory(engine_for(fresh_url))()
    try:
        for name in [*ORDER, "assessment"]:
            table = (
                TABLES["assessments"].name
                if name == "assessment"
                else ENTITIES[name].model.__tablename__
            )
            if table not in everything or everything[table].empty:
                continue
            candidates = corrupt(rng, everything[table], table)
            result = importer.import_batch({table: candidates}, dry_run=True)
            bulk_rejects = {r.row - 1 for r in result.rejected}
            for i in range(len(candidates)):
                api = service_accepts(session, table, candidates.iloc[i])
                assert api == (i not in bulk_rejects), (
                    table,
                    candidates.iloc[i].to_dict(),
                    api_reason(session, table, candidates.iloc[i]),
                    [str(r) for r in result.rejected if r.row == i + 1],
                )
                compared += 1
            rejected_somewhere += len(bulk_rejects)
    finally:
        session.rollback()
        session.close()
    assert compared >= 9 * ROWS_PER_TABLE
    assert 0.3 * compared < rejected_somewhere < 0.9 * compared

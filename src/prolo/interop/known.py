"""What a batch may refer to: its own valid rows and, fetched once per batch, the database's.

Lookups take whole columns of ids and return a frame aligned to them, so that every
reference rule is one vectorised comparison.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from prolo.interop.tables import TABLES
from prolo.registry.models import VocabularyTerm

IN_CHUNK = 5000


def one_of(connection: Connection, column: Any, values: list[Any]) -> ColumnElement[bool]:
    """``column IN values`` with the values in one bound parameter (an array on PostgreSQL, a
    JSON list read by ``json_each`` on SQLite): compiling and planning thousands of bound
    parameters costs far more than the query."""
    clause: ColumnElement[bool]
    if connection.dialect.name == "postgresql":
        clause = column == any_(bindparam(None, values, type_=ARRAY(column.type)))
        return clause
    listed: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam(None, json.dumps(values)))
    )
    clause = column.in_(listed.scalar_subquery())
    return clause


class Vocabularies:
    """Active codes of every vocabulary and their attributes, read once per import."""

    def __init__(self, connection: Connection) -> None:
        self.codes: dict[str, set[str]] = {}
        self.attributes: dict[tuple[str, str], dict[str, Any]] = {}
        rows = connection.execute(
            select(VocabularyTerm.vocabulary, VocabularyTerm.code, VocabularyTerm.attributes).where(
                VocabularyTerm.active.is_(True)
            )
        )
        for vocabulary, code, attributes in rows:
            self.codes.setdefault(vocabulary, set()).add(code)
            self.attributes[(vocabulary, code)] = attributes or {}

    def allowed(self, vocabulary: str) -> str:
        return ", ".join(sorted(self.codes.get(vocabulary, set())))


class Known:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.batch: dict[str, pd.DataFrame] = {}

    def add(self, table: str, rows: pd.DataFrame) -> None:
        """The valid rows of ``table`` in this batch (indexed by id)."""
        self.batch[table] = rows.set_index("id", drop=False)

    def lookup(self, table: str, ids: pd.Series, columns: Iterable[str] = ()) -> pd.DataFrame:
        """For each id in ``ids`` (aligned, positionally): ``found``, ``retired`` and ``columns``
        of the record, from this batch first, else from the database. Dates come back as
        datetime64, numbers as float64 (NaN or NaT where the id is null or not found)."""
        wanted = list(columns)
        keys = pd.to_numeric(ids, errors="coerce").astype("Int64")
        given = keys.notna().to_numpy()
        key_values = keys.to_numpy(dtype=np.int64, na_value=0)
        unique = pd.unique(key_values[given])
        here = self.batch.get(table)
        index_parts: list[np.ndarray[Any, Any]] = []
        value_parts: list[dict[str, Any]] = []
        retired_parts: list[np.ndarray[Any, Any]] = []
        if here is not None and len(here):
            positions = here.index.get_indexer(pd.Index(unique))
            inside = positions >= 0
            index_parts.append(unique[inside])
            value_parts.append({c: _column(here[c].iloc[positions[inside]]) for c in wanted})
            retired_parts.append(np.zeros(int(inside.sum()), dtype=bool))
            unique = unique[~inside]
        if len(unique):
            stored = self._from_database(table, unique, wanted)
            index_parts.append(stored.index.to_numpy(dtype=np.int64))
            value_parts.append({c: _column(stored[c]) for c in wanted})
            retired_parts.append(stored["retired"].to_numpy(dtype=bool))
        found_ids = np.concatenate(index_parts) if index_parts else np.zeros(0, dtype=np.int64)
        where = pd.Index(found_ids).get_indexer(pd.Index(key_values))
        where[~given] = -1
        hit = where >= 0
        out: dict[str, Any] = {}
        for c in wanted:
            parts = [part[c] for part in value_parts]
            values = _concatenated(parts)
            out[c] = pd.api.extensions.take(values, where, allow_fill=True)
        retired = np.concatenate(retired_parts) if retired_parts else np.zeros(0, dtype=bool)
        out["retired"] = hit & np.append(retired, False)[where]
        out["found"] = hit
        return pd.DataFrame(out, columns=[*wanted, "retired", "found"])

    def _from_database(self, table: str, ids: np.ndarray[Any, Any], wanted: list[str]) -> Any:
        t = TABLES[table].table
        rows: list[Any] = []
        for start in range(0, len(ids), IN_CHUNK):
            chunk = [int(i) for i in ids[start : start + IN_CHUNK]]
            query = select(
                t.c.id, t.c.retired_at.is_not(None).label("retired"), *(t.c[c] for c in wanted)
            ).where(one_of(self.connection, t.c.id, chunk))
            rows.extend(self.connection.execute(query).all())
        frame = pd.DataFrame(rows, columns=["id", "retired", *wanted])
        for column in wanted:
            if t.c[column].type.python_type.__name__ == "date":
                frame[column] = pd.to_datetime(frame[column], cache=False)
        return frame.set_index("id")[[*wanted, "retired"]]

    def existing_ids(self, table: str, ids: pd.Series) -> np.ndarray[Any, Any]:
        """Which of ``ids`` are already taken in the database."""
        t = TABLES[table].table
        values = pd.to_numeric(ids, errors="coerce").dropna()
        if values.empty:
            return np.zeros(len(ids), dtype=bool)
        low, high = int(values.min()), int(values.max())
        taken = [
            row[0]
            for row in self.connection.execute(select(t.c.id).where(t.c.id.between(low, high)))
        ]
        return np.isin(pd.to_numeric(ids, errors="coerce").to_numpy(), np.asarray(taken))


def _column(series: pd.Series) -> np.ndarray[Any, Any]:
    """A looked-up column as plain numpy: dates as datetime64[ns], numbers as float64."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.to_numpy(dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if series.dtype == object and series.map(_is_number_or_null).all():
        return pd.to_numeric(series).to_numpy(dtype=float, na_value=np.nan)
    return series.to_numpy(dtype=object)


def _is_number_or_null(value: Any) -> bool:
    return value is None or isinstance(value, int | float | np.integer | np.floating)


def _concatenated(parts: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """Batch and database values of one column (one dtype, or object if they differ)."""
    if not parts:
        return np.zeros(0, dtype=float)
    if len({part.dtype for part in parts}) > 1:
        kinds = {part.dtype.kind for part in parts}
        if kinds <= {"M"}:
            return np.concatenate([p.astype("datetime64[ns]") for p in parts])
        if kinds <= {"f", "i", "u"}:
            return np.concatenate([p.astype(float) for p in parts])
        return np.concatenate([p.astype(object) for p in parts])
    return np.concatenate(parts)

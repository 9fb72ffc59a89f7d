"""What a batch may refer to: its own valid rows and, fetched once per batch, the database's.

Lookups take whole columns of ids and return a frame aligned to them, so that every
reference rule is one vectorised comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from prolo.interop.tables import TABLES
from prolo.registry.models import VocabularyTerm

IN_CHUNK = 5000


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
        of the record, from this batch first, else from the database."""
        wanted = list(columns)
        keys = pd.to_numeric(ids, errors="coerce").astype("Int64")
        unique = pd.unique(keys.dropna().to_numpy(dtype=np.int64))
        here = self.batch.get(table)
        parts = []
        if here is not None and len(here):
            inside = here.loc[here.index.intersection(pd.Index(unique)), wanted].copy()
            inside["retired"] = False
            parts.append(inside)
            unique = unique[~np.isin(unique, here.index.to_numpy())]
        if len(unique):
            parts.append(self._from_database(table, unique, wanted))
        parts = [part for part in parts if len(part)]
        found = (
            pd.concat(parts)
            if parts
            else pd.DataFrame(columns=[*wanted, "retired"], index=pd.Index([], dtype="int64"))
        )
        found["found"] = True
        # One all-null row at the end: position −1 (an id not found) takes it.
        blank = pd.DataFrame({c: [None] for c in found.columns}, index=pd.Index([-1]))
        padded = pd.concat([found.astype(object), blank])
        where = found.index.get_indexer(pd.Index(keys.fillna(-1).to_numpy(dtype=np.int64)))
        aligned = padded.iloc[where].reset_index(drop=True)
        aligned["found"] = aligned["found"].eq(True).to_numpy()
        aligned["retired"] = aligned["retired"].eq(True).to_numpy()
        return aligned

    def _from_database(self, table: str, ids: np.ndarray[Any, Any], wanted: list[str]) -> Any:
        t = TABLES[table].table
        rows: list[Any] = []
        for start in range(0, len(ids), IN_CHUNK):
            chunk = [int(i) for i in ids[start : start + IN_CHUNK]]
            query = select(
                t.c.id, t.c.retired_at.is_not(None).label("retired"), *(t.c[c] for c in wanted)
            ).where(t.c.id.in_(chunk))
            rows.extend(self.connection.execute(query).all())
        frame = pd.DataFrame(rows, columns=["id", "retired", *wanted])
        for column in wanted:
            if t.c[column].type.python_type.__name__ == "date":
                frame[column] = pd.to_datetime(frame[column])
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

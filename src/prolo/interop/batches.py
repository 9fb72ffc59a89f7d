"""Batches already imported, known by a fingerprint of their content.

`prolo import` stopped part-way (killed, power lost) is simply run again: each batch is one
transaction that also records its fingerprint, so a re-run skips exactly the batches that were
committed and writes the rest, without duplicates.
"""

from __future__ import annotations

import hashlib

import pandas as pd
from sqlalchemy import Connection, insert, select

from prolo.interop.models import ExternalKey

SYSTEM = "prolo-import-batch"


def fingerprint(table: str, frame: pd.DataFrame) -> str:
    """SHA-256 of the table name, the column names and every value of the batch."""
    digest = hashlib.sha256()
    digest.update(table.encode())
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    hashed = pd.util.hash_pandas_object(frame.astype("string"), index=False)
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def already_imported(connection: Connection, key: str) -> bool:
    found = connection.scalar(
        select(ExternalKey.id).where(ExternalKey.system == SYSTEM, ExternalKey.key == key)
    )
    return found is not None


def record(connection: Connection, key: str, table: str, rows: int) -> None:
    """Remember the batch, inside the transaction that writes it."""
    connection.execute(
        insert(ExternalKey).values(system=SYSTEM, key=key, entity=table, entity_id=rows)
    )

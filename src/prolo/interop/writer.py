"""Write validated rows fast: ``executemany`` of prepared tuples on SQLite, ``COPY`` on PostgreSQL.

Both run on the batch's own connection, inside its transaction; nothing here validates — the
rows come only from :func:`prolo.interop.validate.validate`.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, text

COPY_ROWS = 200_000
SKIPPED = {"retired_at", "retired_reason"}


def columns_of(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in SKIPPED]


def prepare(table: Table, rows: pd.DataFrame, stamp: dt.datetime) -> pd.DataFrame:
    """The table's columns in order: timestamps added, missing optional columns as null."""
    out = {}
    for column in table.columns:
        name = column.name
        if name in SKIPPED:
            continue
        if name in ("created_at", "updated_at"):
            out[name] = pd.Series([stamp] * len(rows), dtype=object)
        elif name in rows.columns:
            out[name] = rows[name].reset_index(drop=True)
        else:
            out[name] = pd.Series([None] * len(rows), dtype=object)
    return pd.DataFrame(out)


def write(connection: Connection, table: Table, rows: pd.DataFrame, stamp: dt.datetime) -> None:
    if rows.empty:
        return
    frame = prepare(table, rows, stamp)
    if connection.dialect.name == "postgresql":
        _copy(connection, table, frame)
    else:
        _executemany(connection, table, frame)


def _python_column(series: pd.Series, *, sqlite: bool) -> list[Any]:
    """Python values for the driver, None for null; whole columns converted at once."""
    has_null = bool(series.isna().any())
    if not has_null and series.dtype != object and not pd.api.types.is_datetime64_any_dtype(series):
        values = series.to_numpy()
        if values.dtype == bool and sqlite:
            values = values.astype(np.int64)
        return values.tolist()  # type: ignore[no-any-return]
    if not has_null and series.dtype == object:
        return series.tolist()
    if pd.api.types.is_datetime64_any_dtype(series):
        formatted = series.dt.strftime("%Y-%m-%d")
        return list(formatted.astype(object).where(series.notna(), None))
    if pd.api.types.is_bool_dtype(series) or str(series.dtype) == "boolean":
        flags = series.astype(object).where(series.notna(), None)
        return [None if v is None else int(v) if sqlite else bool(v) for v in flags]
    if pd.api.types.is_float_dtype(series):
        array = series.to_numpy(dtype=float).astype(object)
        array[np.isnan(series.to_numpy(dtype=float))] = None
        return array.tolist()  # type: ignore[no-any-return]
    if str(series.dtype) == "Int64":
        return series.astype(object).where(series.notna(), None).tolist()  # type: ignore[no-any-return]
    return series.astype(object).where(series.notna(), None).tolist()  # type: ignore[no-any-return]


def _executemany(connection: Connection, table: Table, frame: pd.DataFrame) -> None:
    stamp = frame["created_at"].iloc[0]
    text_stamp = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
    columns = []
    for name in frame.columns:
        if name in ("created_at", "updated_at"):
            columns.append([text_stamp] * len(frame))
        else:
            columns.append(_python_column(frame[name], sqlite=True))
    names = ", ".join(frame.columns)
    marks = ", ".join("?" * len(frame.columns))
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(zip(*columns, strict=True))
        )
    finally:
        cursor.close()


def _copy(connection: Connection, table: Table, frame: pd.DataFrame) -> None:
    stamp = frame["created_at"].iloc[0].isoformat()
    frame = frame.assign(created_at=stamp, updated_at=stamp)
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.strftime("%Y-%m-%d")
    names = ", ".join(frame.columns)
    raw = connection.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy,
    ):
        for start in range(0, len(frame), COPY_ROWS):
            buffer = io.StringIO()
            frame.iloc[start : start + COPY_ROWS].to_csv(buffer, index=False, header=False)
            copy.write(buffer.getvalue())


def bump_sequence(connection: Connection, table: Table) -> None:
    """After rows with explicit ids, PostgreSQL's id sequence must move past them."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
        )
    )

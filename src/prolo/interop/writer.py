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
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Table, text

COPY_ROWS = 200_000
SKIPPED = {"retired_at", "retired_reason"}


def columns_of(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.name not in SKIPPED]


def prepare(table: Table, rows: pd.DataFrame, stamp: dt.datetime) -> dict[str, pd.Series]:
    """The table's columns in order: timestamps added, missing optional columns as null."""
    out: dict[str, pd.Series] = {}
    n = len(rows)
    for column in table.columns:
        name = column.name
        if name in SKIPPED:
            continue
        if name in ("created_at", "updated_at"):
            out[name] = pd.Series(np.full(n, stamp, dtype=object), dtype=object)
        elif name in rows.columns:
            out[name] = rows[name].reset_index(drop=True)
        else:
            out[name] = pd.Series(np.full(n, None, dtype=object), dtype=object)
    return out


def write(connection: Connection, table: Table, rows: pd.DataFrame, stamp: dt.datetime) -> None:
    if rows.empty:
        return
    frame = prepare(table, rows, stamp)
    if connection.dialect.name == "postgresql":
        _copy(connection, table, frame)
    else:
        _executemany(connection, table, frame)


def _python_column(series: pd.Series) -> list[Any]:
    """Python values for SQLite, None for null; whole columns converted at once."""
    if pd.api.types.is_datetime64_any_dtype(series):
        codes, days = pd.factorize(series, use_na_sentinel=True)  # few distinct dates
        text = np.empty(len(days) + 1, dtype=object)
        # numpy formats the dates in C; a Python strftime per date was a tenth of the import.
        stamps = pd.DatetimeIndex(days)
        instants = np.asarray(stamps.tz_convert("UTC").tz_localize(None) if stamps.tz else stamps)
        text[:-1] = np.datetime_as_string(instants.astype("datetime64[D]"), unit="D")
        return text[codes].tolist()  # type: ignore[no-any-return]
    if pd.api.types.is_bool_dtype(series) or str(series.dtype) == "boolean":
        missing = series.isna().to_numpy()
        ints = series.fillna(False).astype(bool).to_numpy().astype(np.int64).astype(object)
        ints[missing] = None
        return ints.tolist()  # type: ignore[no-any-return]
    if series.dtype == object:
        if not series.isna().any():
            return series.tolist()
        return series.astype(object).where(series.notna(), None).tolist()  # type: ignore[no-any-return]
    return _objects(series).tolist()  # type: ignore[no-any-return]


def _objects(series: pd.Series) -> np.ndarray[Any, Any]:
    """Values as Python objects, with None for null (NaN, NA)."""
    na: Any = None
    return np.asarray(series.to_numpy(dtype="object", na_value=na))


def _executemany(connection: Connection, table: Table, frame: dict[str, pd.Series]) -> None:
    stamp = frame["created_at"].iloc[0]
    text_stamp = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
    columns = []
    for name, series in frame.items():
        if name in ("created_at", "updated_at"):
            columns.append([text_stamp] * len(series))
        else:
            columns.append(_python_column(series))
    names = ", ".join(frame)
    marks = ", ".join("?" * len(frame))
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(zip(*columns, strict=True))
        )
    finally:
        cursor.close()


def _copy(connection: Connection, table: Table, columns: dict[str, pd.Series]) -> None:
    stamp = columns["created_at"].iloc[0].isoformat() if "created_at" in columns else None
    names = ", ".join(columns)
    raw = connection.connection.driver_connection
    assert raw is not None
    arrow = _arrow(columns, stamp)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy,
    ):
        if arrow is None:  # a column Arrow cannot type: pandas writes the CSV
            frame = _pandas_frame(columns, stamp)
            for start in range(0, len(frame), COPY_ROWS):
                copy.write(_csv(frame.iloc[start : start + COPY_ROWS]))
            return
        for start in range(0, arrow.num_rows, COPY_ROWS):
            sink = io.BytesIO()
            pa_csv.write_csv(
                arrow.slice(start, COPY_ROWS), sink, pa_csv.WriteOptions(include_header=False)
            )
            copy.write(sink.getbuffer())


def _arrow(columns: dict[str, pd.Series], stamp: str | None) -> pa.Table | None:
    """The rows as an Arrow table, every column converted at once in C: dates cast to
    ``date32`` (written ``YYYY-MM-DD``), the batch's time stamp repeated without a copy per row.
    None when a column holds Python objects Arrow cannot type."""
    arrays: dict[str, pa.Array] = {}
    try:
        for name, series in columns.items():
            if name in ("created_at", "updated_at"):
                arrays[name] = pa.repeat(stamp, len(series))
            elif pd.api.types.is_datetime64_any_dtype(series):
                # As before: a date (a time stamp's UTC date); the import's date columns.
                arrays[name] = pa.Array.from_pandas(series).cast(pa.date32())
            else:
                arrays[name] = pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    return pa.table(arrays)


def _pandas_frame(columns: dict[str, pd.Series], stamp: str | None) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame = frame.assign(
        **{name: stamp for name in ("created_at", "updated_at") if name in frame.columns}
    )
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.strftime("%Y-%m-%d")
    return frame


def _csv(frame: pd.DataFrame) -> bytes | str:
    """The rows as CSV for ``COPY`` (pandas, for columns Arrow cannot type). Nulls are empty
    and unquoted, empty strings quoted — as PostgreSQL's CSV format reads them."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    return buffer.getvalue()


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

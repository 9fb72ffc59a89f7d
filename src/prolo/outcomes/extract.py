"""The one place that turns SQL into tables: one query per analysis, pushed down to the database.

The database joins, filters and computes each assessment's day relative to the course's index
date (its first injection); the rows come out as Arrow through ADBC (DESIGN §8: reading rows
out of the database is the cost that matters) and Polars picks, per course, measure and time
point, the assessment nearest the target day (tie: the earlier; baseline: the latest).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy.engine import make_url

from prolo.db import normalise_url
from prolo.followup.schedule import DEFAULT, Schedule

# Measure name in the course table → instrument code in the assessments table.
MEASURES: dict[str, str] = {
    "nrs_back": "NRS",
    "nrs_leg": "NRS_LEG",
    "odi": "ODI",
    "rmdq": "RMDQ",
    "ndi": "NDI",
    "pgic": "PGIC",
}
SAFE_CODE = re.compile(r"^[A-Za-z0-9_.-]+$")

# Declared types: the drivers infer types from the rows, which an empty result does not have.
COURSE_SCHEMA: dict[str, Any] = {
    "course_id": pl.Int64,
    "patient_id": pl.Int64,
    "site_id": pl.Int64,
    "practitioner_id": pl.Int64,
    "region": pl.Utf8,
    "age": pl.Float64,
    "sex": pl.Utf8,
    "diagnosis_confirmation": pl.Utf8,
    "duration_months": pl.Float64,
    "planned_sessions": pl.Int64,
    "sessions_done": pl.Int64,
    "followup_therapy_adherence": pl.Float64,
    "practitioner_years": pl.Int64,
    "practitioner_trained": pl.Int64,
    "practitioner_prior_procedures": pl.Int64,
    "recurrence_day": pl.Float64,
}
# Each course's planned start and first injection: its day 0 is the first, else the second.
INDEX_SCHEMA: dict[str, Any] = {
    "course_id": pl.Int64,
    "start_date": pl.Date,
    "first_injection": pl.Date,
}
ASSESSMENT_SCHEMA: dict[str, Any] = {
    "course_id": pl.Int64,
    "instrument": pl.Utf8,
    "score": pl.Float64,
    "day": pl.Int64,
}


@dataclass(frozen=True)
class Filters:
    site_ids: Sequence[int] = ()
    practitioner_ids: Sequence[int] = ()
    regions: Sequence[str] = ()
    # Only these courses (the analysis store's incremental refresh); empty: every course.
    course_ids: Sequence[int] = ()

    @property
    def needs_joins(self) -> bool:
        return bool(self.site_ids or self.regions)

    def where(self, joined: bool = True) -> str:
        """SQL conditions on courses ``c``, patients ``p`` and conditions ``d`` (``joined``) or
        on courses alone; values inlined only after validation (ints, and codes matching a
        strict pattern)."""
        patient_active = (
            "p.retired_at IS NULL"
            if joined
            else "c.patient_id NOT IN (SELECT id FROM patients WHERE retired_at IS NOT NULL)"
        )
        clauses = ["c.retired_at IS NULL", patient_active]
        if self.site_ids:
            clauses.append(f"p.site_id IN ({_ints(self.site_ids)})")
        if self.practitioner_ids:
            clauses.append(f"c.practitioner_id IN ({_ints(self.practitioner_ids)})")
        if self.regions:
            clauses.append(f"d.region IN ({_codes(self.regions)})")
        if self.course_ids:
            clauses.append(f"c.id IN ({_ints(self.course_ids)})")
        return " AND ".join(clauses)


def _ints(values: Sequence[int]) -> str:
    return ", ".join(str(int(v)) for v in values)


def _codes(values: Sequence[str]) -> str:
    for value in values:
        if not SAFE_CODE.match(value):
            raise ValueError(f"not a code: {value!r}")
    return ", ".join(f"'{v}'" for v in values)


@dataclass
class Source:
    """A database to read from: its URL and dialect."""

    url: str
    dialect: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = normalise_url(self.url)
        self.dialect = make_url(self.url).get_backend_name()

    def days_between(self, later: str, earlier: str) -> str:
        if self.dialect == "sqlite":
            return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
        return f"({later} - {earlier})"

    def years_between(self, later: str, earlier: str) -> str:
        return f"CAST({self.days_between(later, earlier)} AS REAL) / 365.25"

    def query(
        self,
        sql: str | Sequence[str],
        schema: pa.Schema | None = None,
        *,
        few: bool = False,
        as_tuples: bool = False,
    ) -> pa.Table:
        return read_arrow(self.url, sql, schema, few=few, as_tuples=as_tuples)

    def frame(
        self, sql: str, schema: dict[str, Any], *, few: bool = False, as_tuples: bool = False
    ) -> pl.DataFrame:
        """The rows as Polars with the declared column types (also when there are none)."""
        table = self.query(sql, arrow_schema(schema), few=few, as_tuples=as_tuples)
        if table.num_rows == 0:
            return pl.DataFrame(schema=schema)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame.cast(schema)  # type: ignore[arg-type]


def arrow_schema(schema: dict[str, Any]) -> pa.Schema:
    """The Arrow schema of declared Polars column types."""
    return pl.DataFrame(schema=schema).to_arrow().schema


def read_arrow(
    url: str,
    sql: str | Sequence[str],
    schema: pa.Schema | None = None,
    *,
    few: bool = False,
    as_tuples: bool = False,
) -> pa.Table:
    """Run a query (or several with the same columns: their rows together) and return the rows
    as an Arrow table; ``schema`` declares the columns' types.

    PostgreSQL: ADBC (libpq, COPY in binary) straight into Arrow. SQLite: Python's own sqlite3
    module — as quoted CSV built inside SQLite when ``schema`` is given (:func:`_sqlite_csv`),
    else columns built from the fetched rows. ADBC's SQLite driver is not used in this process
    on purpose: it links its own copy of the SQLite library, and when that copy opens and
    closes a database file, the POSIX locks of every other connection of the process on that
    file are released — the app's connections then stop seeing writes made by other processes
    (seen here: tests/outcomes/test_extract.py::test_extraction_does_not_blind_other_connections).

    ``few``: the caller expects few rows (a handful of courses): on PostgreSQL they are then read
    through psycopg, which connects in milliseconds where ADBC takes ~0.15 s; on SQLite in this
    process, never in a child (starting one costs ~2.7 s, and ADBC's own SQLite took 11 s for
    the store's changed-courses query that Python's answers in 2 ms on a million courses).
    ``as_tuples`` (SQLite below the child-process size): fetched tuples even with a ``schema``,
    for a query read on a second thread while this one has SQLite build text (two text builds
    at once contend inside SQLite; a text build beside a fetch does not: see course_table).
    """
    statements = [sql] if isinstance(sql, str) else list(sql)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database or ":memory:"
        if path != ":memory:" and not few and _size(path) >= ADBC_SQLITE_FROM_BYTES:
            return _concat(_sqlite_in_children(path, statements), schema)
        if schema is not None and path != ":memory:" and not as_tuples:
            return _sqlite_csv(path, statements, schema)
        return _concat([_sqlite_arrow(path, s) for s in statements], schema)
    if backend == "postgresql":
        if few:
            return _concat(_postgres_rows(parsed, statements), schema)
        if len(statements) > 1:  # pieces of one query: each on its own connection, at once
            with ThreadPoolExecutor(min(READ_THREADS, len(statements))) as pool:
                pieces = pool.map(lambda sql: _postgres_arrow(parsed, [sql])[0], statements)
                return _concat(list(pieces), schema)
        return _concat(_postgres_arrow(parsed, statements), schema)
    raise ValueError(f"unsupported database: {backend}")


def _concat(tables: list[pa.Table], schema: pa.Schema | None) -> pa.Table:
    if len(tables) == 1 and schema is None:
        return tables[0]
    if schema is not None:
        tables = [
            t.select(schema.names).cast(schema) if t.num_rows else schema.empty_table()
            for t in tables
        ]
    return pa.concat_tables(tables)


def _postgres_rows(parsed: Any, statements: list[str]) -> list[pa.Table]:
    import psycopg

    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    tables: list[pa.Table] = []
    with psycopg.connect(plain, autocommit=True) as connection:
        # A few courses are read by their ids. For a long id list the planner guesses about a
        # hundred times the rows (1.1M for the 129k assessments of 10,000 courses among a
        # million) and scans the whole table: 1.7 s where the (course_id, instrument) index
        # takes 0.2 s.
        connection.execute("SET enable_seqscan = off")
        for sql in statements:
            cursor = connection.execute(sql)
            names = [d.name for d in cursor.description or ()]
            rows = cursor.fetchall()
            if not rows:
                tables.append(pa.table({n: pa.array([], pa.null()) for n in names}))
                continue
            frame = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
            tables.append(frame.to_arrow())
    return tables


def _postgres_arrow(parsed: Any, statements: list[str]) -> list[pa.Table]:
    """One ADBC connection for every statement (connecting costs ~0.15 s)."""
    import adbc_driver_postgresql.dbapi as adbc_postgres

    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = adbc_postgres.connect(plain)
    tables: list[pa.Table] = []
    try:
        for sql in statements:
            cursor = connection.cursor()
            cursor.execute(sql)
            tables.append(cursor.fetch_arrow_table())
            cursor.close()
    finally:
        connection.close()
    return tables


# Python's sqlite3 turns every value into a Python object (~2/3 of an extraction's time at
# 100k courses); no library reads SQLite into Arrow in this process without a second SQLite
# library (see read_arrow). So SQLite writes the rows itself, as one quoted-CSV text per
# statement (C code, and without Python's lock: statements run in parallel threads), and
# Arrow's CSV reader parses it in C. ``quote()`` writes text as '…' with '' escapes, NULL
# unquoted, and REALs in full precision (%!.20e: the same double comes back).
CSV_PARSE = pa_csv.ParseOptions(quote_char="'", double_quote=True, newlines_in_values=True)
READ_THREADS = 2


def _sqlite_csv(path: str, statements: list[str], schema: pa.Schema) -> pa.Table:
    line = " || ',' || ".join(f'quote("{name}")' for name in schema.names)
    convert = pa_csv.ConvertOptions(
        column_types=schema,
        null_values=["NULL"],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    names = pa_csv.ReadOptions(column_names=schema.names)

    def read(sql: str) -> pa.Table:
        connection = sqlite3.connect(path)
        try:
            text = connection.execute(
                f"SELECT CAST(group_concat({line}, char(10)) AS BLOB) FROM ({sql})"
            ).fetchone()[0]
        finally:
            connection.close()
        if text is None:
            return schema.empty_table()
        return pa_csv.read_csv(
            pa.py_buffer(text), read_options=names, parse_options=CSV_PARSE, convert_options=convert
        )

    # One piece after another: two threads building text inside SQLite at once took longer than
    # one after the other (6.6 s against 4.3 s for the two pieces of 100,000 courses, measured
    # on an idle 2-core machine): they contend inside SQLite. The second core reads the course
    # query meanwhile (course_table).
    return pa.concat_tables([read(sql) for sql in statements])


# Above this file size the rows are read by ADBC in child processes (measured on a shared
# machine: 12.0 s instead of 24.3 s through the quoted-CSV path for the 13M assessment rows of a
# million courses, a 7.3 GB file); below it starting the child costs more than it saves (4.5 s
# instead of 3.1 s at 100,000 courses, 0.7 GB).
ADBC_SQLITE_FROM_BYTES = 1024 * 1024 * 1024


def _size(path: str) -> int:
    import os

    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _sqlite_in_children(path: str, statements: list[str]) -> list[pa.Table]:
    """Pieces of one query in (at most) READ_THREADS child processes at once, each reading its
    share of the pieces as one UNION ALL."""
    if len(statements) == 1:
        return [_sqlite_arrow_in_child(path, statements[0])]
    shares = [statements[i::READ_THREADS] for i in range(READ_THREADS)]
    unions = [
        " UNION ALL ".join(f"SELECT * FROM ({s})" for s in share) for share in shares if share
    ]
    with ThreadPoolExecutor(len(unions)) as pool:
        return list(pool.map(lambda sql: _sqlite_arrow_in_child(path, sql), unions))


def _sqlite_arrow_in_child(path: str, sql: str) -> pa.Table:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "prolo.outcomes.sqlite_reader", path],
        input=sql.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"reading {path} failed: {result.stderr.decode()[-500:]}")
    return pa.ipc.open_stream(result.stdout).read_all()


def _sqlite_arrow(path: str, sql: str) -> pa.Table:
    connection = sqlite3.connect(path)
    try:
        cursor = connection.execute(sql)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        connection.close()
    if not rows:
        return pa.table({name: pa.array([], pa.null()) for name in names})
    columns = list(zip(*rows, strict=True))
    return pa.table({name: pa.array(column) for name, column in zip(names, columns, strict=True)})


def _only(filters: Filters) -> str:
    """The course restriction inside the per-course aggregates too: without it they would
    aggregate every course before the join keeps the few asked for."""
    return f"AND course_id IN ({_ints(filters.course_ids)})" if filters.course_ids else ""


def _course_sql(source: Source, filters: Filters) -> str:
    index = "COALESCE(s.index_date, c.start_date)"
    only = _only(filters)
    return f"""
    WITH s AS (
        SELECT course_id, MIN(session_date) AS index_date, COUNT(*) AS sessions_done
        FROM injection_sessions WHERE retired_at IS NULL {only} GROUP BY course_id
    ), ci AS (
        SELECT course_id, AVG(adherence_percent) AS followup_therapy_adherence
        FROM co_interventions WHERE retired_at IS NULL {only} GROUP BY course_id
    ), tr AS (
        SELECT practitioner_id, MAX(CASE WHEN verified THEN 1 ELSE 0 END) AS trained
        FROM training_records WHERE retired_at IS NULL GROUP BY practitioner_id
    ), rc AS (
        SELECT course_id, MIN(event_date) AS first_recurrence
        FROM recurrences WHERE retired_at IS NULL {only} GROUP BY course_id
    )
    SELECT c.id AS course_id, c.patient_id, p.site_id, c.practitioner_id, d.region,
        c.start_date, s.index_date AS first_injection,
        CAST({source.years_between(index, "p.birth_date")} AS REAL) AS age,
        p.sex, d.diagnosis_confirmation,
        CAST({source.days_between(index, "d.onset_date")} AS REAL) / 30.4375 AS duration_months,
        c.planned_sessions, CAST(COALESCE(s.sessions_done, 0) AS INTEGER) AS sessions_done,
        CAST(ci.followup_therapy_adherence AS REAL) AS followup_therapy_adherence,
        pr.years_in_practice AS practitioner_years,
        CAST(COALESCE(tr.trained, 0) AS INTEGER) AS practitioner_trained,
        pr.prior_prolotherapy_procedures AS practitioner_prior_procedures,
        CAST({source.days_between("rc.first_recurrence", index)} AS REAL) AS recurrence_day
    FROM treatment_courses c
    JOIN patients p ON p.id = c.patient_id
    JOIN conditions d ON d.id = c.condition_id
    JOIN practitioners pr ON pr.id = c.practitioner_id
    LEFT JOIN s ON s.course_id = c.id
    LEFT JOIN ci ON ci.course_id = c.id
    LEFT JOIN tr ON tr.practitioner_id = c.practitioner_id
    LEFT JOIN rc ON rc.course_id = c.id
    WHERE {filters.where()}
    """


def _index_sql(filters: Filters) -> str:
    """Each selected course's planned start and first injection (its day 0 when present)."""
    joins = (
        "JOIN patients p ON p.id = c.patient_id JOIN conditions d ON d.id = c.condition_id"
        if filters.site_ids or filters.regions
        else ""
    )
    where = (
        filters.where().replace("AND p.retired_at IS NULL", "") if not joins else filters.where()
    )
    return f"""
    SELECT c.id AS course_id, c.start_date, s.first_injection
    FROM treatment_courses c
    {joins}
    LEFT JOIN (
        SELECT course_id, MIN(session_date) AS first_injection
        FROM injection_sessions WHERE retired_at IS NULL {_only(filters)} GROUP BY course_id
    ) s ON s.course_id = c.id
    WHERE {where}
    """


def _assessment_sql(
    instruments: Sequence[str],
    course_ids: Sequence[int] = (),
    between: tuple[int, int] | None = None,
) -> str:
    """Scored assessments of the instruments, as stored: no join, no per-row date arithmetic —
    reading rows out is the cost that matters (DESIGN §8), so the database only filters.
    ``between``: only courses with ids in [low, high). ``scorable = TRUE`` (not a bare
    ``scorable``) lets SQLite seek the extraction index on every column up to ``course_id``:
    1,000 courses are then read in milliseconds instead of by a scan of each instrument."""
    only = f"AND course_id IN ({_ints(course_ids)})" if course_ids else ""
    if between is not None:
        only += f" AND course_id >= {int(between[0])} AND course_id < {int(between[1])}"
    return f"""
    SELECT course_id, instrument, CAST(score AS REAL) AS score, assessed_on FROM assessments
    WHERE instrument IN ({_codes(instruments)}) AND scorable = TRUE AND retired_at IS NULL
      AND course_id IS NOT NULL AND score IS NOT NULL {only}
    """


RAW_ASSESSMENTS = pa.schema(
    [
        ("course_id", pa.int64()),
        ("instrument", pa.large_string()),
        ("score", pa.float64()),
        ("assessed_on", pa.date32()),
    ]
)
SPLIT_ABOVE = 20_000  # courses: below, one statement (a piece's own connection costs more)
COURSES_PER_READ = 50_000  # a statement's rows (≈ 13 per course) stay a few tens of MB of text


def _assessment_statements(
    source: Source, instruments: Sequence[str], filters: Filters
) -> list[str]:
    """The assessment query, cut by ranges of course ids so that the pieces are read in
    parallel (SQLite: in pieces of at most COURSES_PER_READ courses, so that no statement's
    text grows past memory; PostgreSQL: one piece per reading thread)."""
    if filters.course_ids:
        return [_assessment_sql(instruments, filters.course_ids)]
    bounds = source.query(
        "SELECT MIN(id) AS low, MAX(id) AS high FROM treatment_courses",
        pa.schema([("low", pa.int64()), ("high", pa.int64())]),
        few=True,
    )
    low, high = bounds.column("low")[0].as_py(), bounds.column("high")[0].as_py()
    if low is None or high is None or high - low < SPLIT_ABOVE:
        return [_assessment_sql(instruments)]
    step = (high - low + 1) // READ_THREADS + 1
    if source.dialect == "sqlite":
        step = min(step, COURSES_PER_READ)
    return [
        _assessment_sql(instruments, between=(start, start + step))
        for start in range(low, high + 1, step)
    ]


def _dates(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """SQLite gives dates as ISO text, PostgreSQL as dates: make them dates either way."""
    return frame.with_columns(
        pl.col(c).str.to_date("%Y-%m-%d", strict=False)
        if frame.schema[c] == pl.Utf8
        else pl.col(c).cast(pl.Date)
        for c in columns
    )


def day_zero(source: Source, filters: Filters) -> pl.DataFrame:
    """(course_id, day0) of the selected courses: the first injection, else the planned start."""
    return _day0(source.frame(_index_sql(filters), INDEX_SCHEMA))


def _day0(courses: pl.DataFrame) -> pl.DataFrame:
    return courses.select(
        pl.col("course_id"), pl.coalesce("first_injection", "start_date").alias("day0")
    )


def assessment_days(
    source: Source,
    instruments: Sequence[str],
    windows: Schedule,
    filters: Filters,
    *,
    index: pl.DataFrame | None = None,
    exclude: pl.DataFrame | None = None,
    raw: pa.Table | None = None,
) -> pl.DataFrame:
    """(course_id, instrument, score, day) for the selected courses, day counted from day 0;
    rows matching ``exclude`` (course_id, instrument, assessed_on: the traced questionnaires,
    which belong to the double-sampling estimate only) are left out."""
    index = day_zero(source, filters) if index is None else index
    if raw is None:
        raw = source.query(_assessment_statements(source, instruments, filters), RAW_ASSESSMENTS)
    if raw.num_rows == 0 or index.height == 0:
        return pl.DataFrame(schema=ASSESSMENT_SCHEMA)
    frame = pl.from_arrow(raw)
    assert isinstance(frame, pl.DataFrame)
    frame = _dates(frame, "assessed_on").with_columns(pl.col("course_id").cast(pl.Int64))
    if exclude is not None and exclude.height:
        frame = frame.join(
            exclude.select("course_id", "instrument", "assessed_on"),
            on=["course_id", "instrument", "assessed_on"],
            how="anti",
        )
    lowest = min(t.start for t in windows.time_points)
    highest = max(t.end for t in windows.time_points)
    return (
        frame.join(index, on="course_id", how="inner")
        .with_columns((pl.col("assessed_on") - pl.col("day0")).dt.total_days().alias("day"))
        .filter(pl.col("day").is_between(lowest, highest))
        .select(
            pl.col("course_id"),
            pl.col("instrument"),
            pl.col("score").cast(pl.Float64),
            pl.col("day").cast(pl.Int64),
        )
    )


def pick_time_points(assessments: pl.DataFrame, windows: Schedule) -> pl.DataFrame:
    """One score per course, instrument and time point: nearest the target day (tie: earlier);
    for a window marked ``latest`` (baseline), the latest. Vectorised: sort, first per group."""
    picked = _picks(assessments, windows)
    names = pl.Series(windows.names(), dtype=pl.Utf8)
    return picked.with_columns(
        pl.col("_window").replace_strict(list(range(len(names))), names).alias("time_point")
    ).drop("_window", "_instrument")


def _picks(assessments: pl.DataFrame, windows: Schedule) -> pl.DataFrame:
    """The picks with integer keys: ``_instrument`` (its place among the instruments present,
    sorted) and ``_window`` (the time point's place in ``windows``). Sorting and grouping on
    integers rather than on text is what keeps this fast (~10× at 100k courses)."""
    codes = sorted(set(assessments.get_column("instrument").unique().to_list()))
    if len(codes) >= 64 or len(windows.time_points) >= 64:
        raise ValueError("at most 63 instruments and 63 time points are picked at once")
    keyed = assessments.with_columns(
        pl.col("instrument")
        .replace_strict(codes, list(range(len(codes))), return_dtype=pl.Int32)
        .alias("_instrument")
    )
    labelled = []
    for number, window in enumerate(windows.time_points):
        in_window = keyed.filter(pl.col("day").is_between(window.start, window.end))
        rank = (-pl.col("day")) if window.latest else (pl.col("day") - window.target).abs()
        labelled.append(
            in_window.with_columns(
                pl.lit(number, dtype=pl.Int32).alias("_window"), rank.alias("_rank")
            )
        )
    if not labelled or assessments.height == 0:
        return keyed.head(0).with_columns(
            pl.lit(0, dtype=pl.Int32).alias("_instrument"),
            pl.lit(0, dtype=pl.Int32).alias("_window"),
        )
    # Two packed integer keys: (course, instrument, window) and (rank, day); ranks and days
    # are within ±2^15 (windows span days −30…800), ids within 2^40.
    group = (pl.col("course_id") * 64 + pl.col("_instrument")) * 64 + pl.col("_window")
    order = (pl.col("_rank").cast(pl.Int64) + 32768) * 65536 + pl.col("day") + 32768
    ordered = (
        pl.concat(labelled)
        .with_columns(group.alias("_group"), order.alias("_order"))
        .sort(["_group", "_order"])
    )
    first = (pl.col("_group") != pl.col("_group").shift(1)).fill_null(True)
    return ordered.filter(first).drop("_rank", "_group", "_order")


def _wide(picked: pl.DataFrame, windows: Schedule, measure_of: dict[str, str]) -> pl.DataFrame:
    """(course_id, one score column per measure and time point) from the picks: each pick is
    written straight into its cell of a course × column array (a scatter; Polars' pivot took
    ~1 s at 100k courses for what this does in milliseconds)."""
    courses = picked.get_column("course_id").unique().sort()
    if courses.len() == 0:
        return pl.DataFrame(schema={"course_id": pl.Int64})
    codes = sorted(set(picked.get_column("instrument").unique().to_list()))
    n_windows = len(windows.time_points)
    row = courses.search_sorted(picked.get_column("course_id")).to_numpy()
    column = (
        picked.get_column("_instrument").to_numpy().astype(np.int64) * n_windows
        + picked.get_column("_window").to_numpy()
    )
    cells = np.full((courses.len(), len(codes) * n_windows), np.nan)
    cells[row, column] = picked.get_column("score").to_numpy()
    names = [f"{measure_of[code]}_{window}" for code in codes for window in windows.names()]
    # A score is never NaN (NULL scores are not read), so NaN marks an empty cell.
    columns = [pl.Series(name, cells[:, j], nan_to_null=True) for j, name in enumerate(names)]
    return pl.DataFrame([courses, *columns])


def course_table(
    url: str,
    *,
    windows: Schedule = DEFAULT,
    measures: Sequence[str] = tuple(MEASURES),
    filters: Filters | None = None,
    covariates: bool = True,
) -> pl.DataFrame:
    """The course table of ``prolo.outcomes.table``: a course per row with covariates and, for
    each measure and time point, the score (null when none was in the window).

    ``covariates=False`` reads only the assessments and day 0 of each course (enough for the
    estimands without models; courses with no assessment in any window are then absent, and
    they are not evaluable anyway)."""
    from prolo.outcomes import tracing_extract

    source = Source(url)
    filters = filters or Filters()
    instruments = [MEASURES[m] for m in measures]
    # The courses' query runs beside the assessments' (another connection: the database works
    # on both cores); with covariates it also gives each course's day 0. On SQLite it is
    # fetched as tuples while this thread has SQLite build the assessments' text: 5.5 s
    # instead of 10.1 s for the course table of 100,000 courses (two text builds contend).
    with ThreadPoolExecutor(1) as pool:
        few = bool(filters.course_ids)
        reading = pool.submit(
            source.frame,
            _course_sql(source, filters) if covariates else _index_sql(filters),
            COURSE_SCHEMA | INDEX_SCHEMA if covariates else INDEX_SCHEMA,
            few=few,
            as_tuples=True,
        )
        members, traced = tracing_extract.read(source, instruments, filters.course_ids)
        raw = source.query(
            _assessment_statements(source, instruments, filters), RAW_ASSESSMENTS, few=few
        )
        read = reading.result()
    index = _day0(read)
    days = assessment_days(
        source, instruments, windows, filters, index=index, exclude=traced, raw=raw
    )
    picked = _picks(days, windows)
    if covariates:
        courses = read.drop(list(INDEX_SCHEMA)[1:])
    else:
        courses = days.select("course_id").unique().sort("course_id")
    wide = _wide(picked, windows, {code: name for name, code in MEASURES.items()})
    table = courses.join(wide, on="course_id", how="left")
    wanted = [f"{m}_{tp}" for m in measures for tp in windows.names()]
    missing = [pl.lit(None, dtype=pl.Float64).alias(c) for c in wanted if c not in table.columns]
    table = table.with_columns(missing)
    others = [c for c in table.columns if c not in courses.columns and c not in wanted]
    table = table.select([*courses.columns, *wanted, *sorted(others)])
    if members.height:
        tracing = tracing_extract.tracing_columns(
            members, traced, index, windows, {code: name for name, code in MEASURES.items()}
        )
        table = table.join(tracing, on="course_id", how="left")
    return _finish(table, picked) if covariates else table


def _finish(table: pl.DataFrame, picked: pl.DataFrame) -> pl.DataFrame:
    last_contact = picked.group_by("course_id").agg(pl.col("day").max().alias("last_contact"))
    table = table.join(last_contact, on="course_id", how="left")
    return table.with_columns(
        pl.col("practitioner_trained").cast(pl.Boolean),
        pl.col("recurrence_day").is_not_null().alias("recurrence_observed"),
        pl.when(pl.col("recurrence_day").is_not_null())
        .then(pl.col("recurrence_day"))
        .otherwise(None)
        .cast(pl.Float64)
        .alias("time_to_recurrence_days"),
        pl.max_horizontal(pl.col("last_contact"), pl.col("recurrence_day"))
        .cast(pl.Float64)
        .alias("last_contact_days"),
    ).drop("recurrence_day", "last_contact")


def safety_tables(url: str, filters: Filters | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sessions (session_id, course_id) and adverse events of the selected courses."""
    source = Source(url)
    where = (filters or Filters()).where()
    base = (
        "FROM treatment_courses c JOIN patients p ON p.id = c.patient_id "
        "JOIN conditions d ON d.id = c.condition_id"
    )
    sessions = source.frame(
        f"SELECT i.id AS session_id, i.course_id {base} "
        f"JOIN injection_sessions i ON i.course_id = c.id WHERE i.retired_at IS NULL AND {where}",
        {"session_id": pl.Int64, "course_id": pl.Int64},
    )
    events = source.frame(
        "SELECT e.course_id, e.session_id, e.event_type, CAST(e.grade AS INTEGER) AS grade, "
        f"CAST(CASE WHEN e.serious THEN 1 ELSE 0 END AS INTEGER) AS serious {base} "
        f"JOIN adverse_events e ON e.course_id = c.id WHERE e.retired_at IS NULL AND {where}",
        {
            "course_id": pl.Int64,
            "session_id": pl.Int64,
            "event_type": pl.Utf8,
            "grade": pl.Int64,
            "serious": pl.Int64,
        },
    )
    return sessions, events.with_columns(pl.col("serious").cast(pl.Boolean))


def as_pandas(table: pl.DataFrame) -> Any:
    """The table as pandas, for statistics written against pandas."""
    return table.to_pandas()

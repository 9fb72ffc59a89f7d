"""The analysis store: the course table (``extract.course_table``) kept as an LZ4 Parquet file
beside the database and refreshed incrementally, so that reports read a column file instead of
re-extracting every course (DESIGN §8: getting rows out of the database is the cost).

Layout: ``<directory>/state.json`` names the files of the current snapshot: a *base*
(``base-<stamp>.parquet``: every active course, every measure, default windows) and, after
incremental refreshes, *deltas* (``delta-<stamp>.parquet``, oldest first): each holds the new rows
of the courses it rebuilt, with ``_live`` false for a course removed (retired, or its patient
retired). A course's row in a later file replaces its earlier rows. :func:`read_snapshot` applies
them; ``prolo analysis refresh --full`` leaves a single base file. A delta costs only its rows,
where rewriting the base costs the whole table; once the deltas hold more than a tenth of the
base's rows the next refresh folds them into a new base. State and files are written first to
new names and swapped in, so a reader sees either the old set or the new one (and retries if a
file of the old set was removed under it).
The directory is ``PROLO_ANALYSIS_DIR/<database>`` when that setting is given, else
``<file>.analysis`` beside a SQLite file and ``~/.local/share/prolo/analysis/<host>_<port>_<db>``
for PostgreSQL. Parquet because DuckDB, Polars, pandas, R and Spark all read it.

Incremental refresh: every clinical table has ``updated_at`` (set by the services on each
change — retirements and corrections included — and by the bulk writer); a refresh rebuilds only
the courses touched by a row changed after the previous refresh's *mark*, and drops those that
are no longer active. The mark is a time before which every change is already committed:
  * SQLite: "now", taken while holding the write lock (``BEGIN IMMEDIATE``, briefly), since every
    writer stamps its rows after taking that lock;
  * PostgreSQL: the earliest of "now" and the start of any transaction still open, since a
    transaction stamps its rows after it starts.
PostgreSQL's less a second, for the clocks of other machines. Rows changed after the mark are
read again by the next refresh (harmless: rebuilding a course is idempotent).

Freshness: the snapshot is stale when a row has changed since (its newest ``updated_at`` is past
the newest included, or the number of rows stamped after the mark differs). Readers
(:func:`analysis_table`) refresh a stale snapshot before answering; when the write lock cannot
be had quickly (a long import is writing) they read the database directly instead — never stale.

Only Python's own ``sqlite3`` opens the SQLite file here, never a second SQLite library (see
``extract.read_arrow``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from prolo.followup.schedule import DEFAULT, Schedule
from prolo.outcomes.extract import MEASURES, Filters, Source, course_table

VERSION = 2
STATE_FILE = "state.json"
COMPACT_ABOVE = 0.1  # fold the deltas into a new base once they hold this share of its rows
CLOCK_MARGIN = dt.timedelta(seconds=1)
LOCK_SECONDS = 2.0  # how long a reader waits for SQLite's write lock before reading directly
COLD_ABOVE = 0.3  # rebuild everything when more than this share of the courses changed

# How a changed row of each table reaches the courses it affects.
CHANGED_COURSES = (
    "SELECT id AS course_id FROM treatment_courses WHERE updated_at > {mark}",
    "SELECT c.id FROM treatment_courses c JOIN patients p ON p.id = c.patient_id "
    "WHERE p.updated_at > {mark}",
    "SELECT c.id FROM treatment_courses c JOIN conditions d ON d.id = c.condition_id "
    "WHERE d.updated_at > {mark}",
    "SELECT c.id FROM treatment_courses c WHERE c.practitioner_id IN ("
    "SELECT id FROM practitioners WHERE updated_at > {mark} "
    "UNION SELECT practitioner_id FROM training_records WHERE updated_at > {mark})",
    "SELECT course_id FROM injection_sessions WHERE updated_at > {mark}",
    "SELECT course_id FROM co_interventions WHERE updated_at > {mark}",
    "SELECT course_id FROM recurrences WHERE updated_at > {mark}",
    "SELECT course_id FROM assessments WHERE updated_at > {mark} AND course_id IS NOT NULL",
)
WATCHED = (
    "treatment_courses",
    "patients",
    "conditions",
    "practitioners",
    "training_records",
    "injection_sessions",
    "co_interventions",
    "recurrences",
    "assessments",
)


class Busy(Exception):
    """SQLite's write lock could not be had quickly: a writer is at work."""


@dataclass
class Refresh:
    """What a refresh did."""

    kind: str  # "cold" (built from nothing), "incremental", or "current" (nothing to do)
    courses: int  # courses rebuilt
    removed: int  # courses dropped (retired, or their patient retired)
    rows: int  # courses in the snapshot afterwards
    seconds: float
    data_as_of: dt.datetime | None
    directory: Path

    def describe(self) -> str:
        newest = self.data_as_of.isoformat() if self.data_as_of else "no data"
        return (
            f"{self.kind}: {self.courses} courses rebuilt, {self.removed} removed, "
            f"{self.rows} in the snapshot (data as of {newest}) in {self.seconds:.2f} s "
            f"→ {self.directory}"
        )


@dataclass
class Analysis:
    """The course table a reader asked for, and how fresh it is."""

    table: pl.DataFrame
    data_as_of: dt.datetime | None
    refresh: Refresh | None  # None when read directly (store unavailable or busy)


@dataclass
class _Probe:
    mark: dt.datetime
    newest: dt.datetime | None
    after_mark: int


def directory_for(url: str, base: str | os.PathLike[str] | None = None) -> Path | None:
    """Where the store of ``url`` lives; None for an in-memory database (no store)."""
    from sqlalchemy.engine import make_url

    if base is None:
        from prolo.settings import get_settings

        base = get_settings().analysis_dir
    parsed = make_url(Source(url).url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            return None
        absolute = Path(path).resolve()
        if base is None:
            return absolute.with_name(absolute.name + ".analysis")
        digest = hashlib.sha256(str(absolute).encode()).hexdigest()[:10]
        return Path(base) / f"{absolute.stem}-{digest}"
    name = f"{parsed.host or 'local'}_{parsed.port or 5432}_{parsed.database}"
    root = Path(base) if base is not None else Path.home() / ".local/share/prolo/analysis"
    return root / name


# --- reading the database's change stamps -------------------------------------------------


def _literal(source: Source, moment: dt.datetime) -> str:
    """A timestamp as SQL, written as each dialect stores ``updated_at`` (SQLite: UTC text)."""
    utc = moment.astimezone(dt.UTC)
    if source.dialect == "sqlite":
        return "'" + utc.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"
    return "TIMESTAMPTZ '" + utc.isoformat() + "'"


def _as_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def _newest_sql() -> str:
    parts = [f"SELECT MAX(updated_at) AS t FROM {t}" for t in WATCHED]
    parts.append("SELECT MAX(created_at) AS t FROM tracing_draws")
    return "SELECT MAX(t) AS newest FROM (" + " UNION ALL ".join(parts) + ") stamps"


def _after_sql(source: Source, mark: dt.datetime) -> str:
    literal = _literal(source, mark)
    parts = [f"SELECT COUNT(*) AS n FROM {t} WHERE updated_at > {literal}" for t in WATCHED]
    parts.append(f"SELECT COUNT(*) AS n FROM tracing_draws WHERE created_at > {literal}")
    return "SELECT SUM(n) AS after_mark FROM (" + " UNION ALL ".join(parts) + ") counts"


def _rows(source: Source, sql: str) -> list[dict[str, Any]]:
    """A small query's rows. PostgreSQL through psycopg: ADBC takes ~0.15 s to connect, the
    whole budget of a warm read."""
    if source.dialect == "sqlite":
        connection = sqlite3.connect(_sqlite_path(source), timeout=LOCK_SECONDS)
        try:
            cursor = connection.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            connection.close()
    import psycopg
    from psycopg.rows import dict_row
    from sqlalchemy.engine import make_url

    plain = make_url(source.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, row_factory=dict_row) as server:
        return server.execute(sql).fetchall()  # type: ignore[arg-type]


def _sqlite_path(source: Source) -> str:
    from sqlalchemy.engine import make_url

    return make_url(source.url).database or ""


def _probe(source: Source, *, lock_seconds: float = LOCK_SECONDS) -> _Probe:
    """The mark (every change before it is committed), the newest change, and how many rows
    are stamped after the mark."""
    if source.dialect == "sqlite":
        connection = sqlite3.connect(
            _sqlite_path(source), timeout=lock_seconds, isolation_level=None
        )
        try:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise Busy(str(error)) from error
            mark = dt.datetime.now(dt.UTC)  # a local file: its writers share this clock
            newest = _as_time(connection.execute(_newest_sql()).fetchone()[0])
            after = connection.execute(_after_sql(source, mark)).fetchone()[0]
            connection.execute("ROLLBACK")
        finally:
            connection.close()
        return _Probe(mark, newest, int(after or 0))
    row = _rows(
        source,
        "SELECT now() AS now, (SELECT MIN(xact_start) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' "
        "AND xact_start IS NOT NULL) AS oldest",
    )[0]
    candidates = [t for t in (_as_time(row["now"]), _as_time(row["oldest"])) if t is not None]
    mark = min(candidates) - CLOCK_MARGIN
    stamps = _rows(
        source, f"SELECT ({_newest_sql()}) AS newest, ({_after_sql(source, mark)}) AS after_mark"
    )[0]
    return _Probe(mark, _as_time(stamps["newest"]), int(stamps["after_mark"] or 0))


def _current_stamps(source: Source, mark: dt.datetime) -> tuple[dt.datetime | None, int]:
    stamps = _rows(
        source, f"SELECT ({_newest_sql()}) AS newest, ({_after_sql(source, mark)}) AS after_mark"
    )[0]
    return _as_time(stamps["newest"]), int(stamps["after_mark"] or 0)


def _changed_courses(source: Source, since: dt.datetime) -> list[int]:
    literal = _literal(source, since)
    sql = " UNION ".join(part.format(mark=literal) for part in CHANGED_COURSES)
    table = source.query(sql, few=True)
    if table.num_rows == 0:
        return []
    return sorted(int(v) for v in table.column(0).to_pylist() if v is not None)


def _tracing_changed(source: Source, since: dt.datetime) -> bool:
    rows = _rows(
        source,
        f"SELECT COUNT(*) AS n FROM tracing_draws WHERE created_at > {_literal(source, since)}",
    )
    return bool(rows[0]["n"])


# --- the files ------------------------------------------------------------------------------


def _state(directory: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if state.get("version") != VERSION:
        return None
    files = [state["base"], *state["deltas"]]
    if not all((directory / name).exists() for name in files):
        return None
    return state  # type: ignore[no-any-return]


def _stamp() -> str:
    return f"{time.time_ns()}-{os.getpid()}"


def _parquet(directory: Path, prefix: str, table: pl.DataFrame) -> str:
    """Write ``table`` under a new name (staged, then renamed: never seen half-written)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}-{_stamp()}.parquet"
    staged = directory / f".{name}"
    table.write_parquet(staged, compression="lz4", statistics=True)
    os.replace(staged, directory / name)
    return name


def _commit(
    directory: Path,
    base: str,
    deltas: list[str],
    courses: int,
    probe: _Probe,
    delta_rows: int = 0,
) -> None:
    """Swap in the new state, then remove the files no state names any more."""
    state = {
        "version": VERSION,
        "base": base,
        "deltas": deltas,
        "delta_rows": delta_rows,
        "mark": probe.mark.isoformat(),
        "data_as_of": probe.newest.isoformat() if probe.newest else None,
        "after_mark": probe.after_mark,
        "courses": courses,
    }
    staged = directory / f".{STATE_FILE}.{_stamp()}"
    staged.write_text(json.dumps(state), encoding="utf-8")
    os.replace(staged, directory / STATE_FILE)
    keep = {base, *deltas}
    for old in directory.glob("*.parquet"):
        if old.name not in keep:
            old.unlink(missing_ok=True)


def read_snapshot(
    directory: Path,
    columns: Sequence[str] | None = None,
    state: dict[str, Any] | None = None,
    *,
    measures: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The snapshot's table: the base with each delta applied in turn (``columns``: only
    these, ``course_id`` always included; ``measures``: only these measures' score columns)."""
    for attempt in range(3):
        current = state or _state(directory)
        if current is None:
            raise FileNotFoundError(f"no analysis snapshot in {directory}")
        try:
            if measures is not None:
                names = pq.read_schema(directory / current["base"]).names
                columns = _wanted_columns(names, measures)
            return _apply(directory, current, columns)
        except FileNotFoundError:  # a refresh replaced the files between state and read
            state = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _apply(directory: Path, state: dict[str, Any], columns: Sequence[str] | None) -> pl.DataFrame:
    wanted = None if columns is None else ["course_id", *(c for c in columns if c != "course_id")]
    table = pl.read_parquet(directory / state["base"], columns=wanted)
    for name in state["deltas"]:
        present = set(pq.read_schema(directory / name).names)
        delta = pl.read_parquet(
            directory / name,
            columns=None if wanted is None else [c for c in [*wanted, "_live"] if c in present],
        )
        kept = table.filter(~pl.col("course_id").is_in(delta.get_column("course_id").implode()))
        live = delta.filter(pl.col("_live")).drop("_live")
        table = pl.concat([kept, live], how="diagonal_relaxed")
    return table


# --- refresh and read -----------------------------------------------------------------------


def refresh(
    url: str,
    *,
    directory: Path | None = None,
    full: bool = False,
    lock_seconds: float = LOCK_SECONDS,
) -> Refresh:
    """Bring the snapshot of ``url`` up to date (from nothing when absent or ``full``)."""
    started = time.perf_counter()
    source = Source(url)
    folder = directory or directory_for(url)
    if folder is None:
        raise ValueError("an in-memory database has no analysis store")
    state = None if full else _state(folder)
    if state is not None and not _stale(source, state):
        done = Refresh("current", 0, 0, int(state["courses"]), 0.0, None, folder)
        done.data_as_of = _as_time(state["data_as_of"])
        return _timed(done, started)
    probe = _probe(source, lock_seconds=lock_seconds)
    if state is not None:
        previous = _as_time(state["mark"])
        assert previous is not None
        if not _tracing_changed(source, previous):
            changed = _changed_courses(source, previous)
            if len(changed) <= COLD_ABOVE * max(int(state["courses"]), 1):
                return _timed(_incremental(url, folder, state, changed, probe), started)
    table = course_table(url)
    _commit(folder, _parquet(folder, "base", table), [], table.height, probe)
    done = Refresh("cold", table.height, 0, table.height, 0.0, probe.newest, folder)
    return _timed(done, started)


def _incremental(
    url: str, folder: Path, state: dict[str, Any], changed: list[int], probe: _Probe
) -> Refresh:
    """Rebuild the ``changed`` courses into a new delta (or into a new base, once the deltas
    hold more than :data:`COMPACT_ABOVE` of its rows)."""
    new = course_table(url, filters=Filters(course_ids=changed)) if changed else None
    rebuilt = pl.Series("course_id", [], pl.Int64) if new is None else new.get_column("course_id")
    before = read_snapshot(folder, ["course_id"], state).get_column("course_id")
    unchanged = int((~before.is_in(changed)).sum())
    removed = int(before.is_in(changed).sum()) - int(rebuilt.is_in(before.implode()).sum())
    courses = unchanged + rebuilt.len()
    gone = pl.DataFrame(
        {"course_id": sorted(set(changed) - set(rebuilt.to_list()))}, schema={"course_id": pl.Int64}
    )
    delta = pl.concat(
        [
            (new if new is not None else gone.head(0)).with_columns(pl.lit(True).alias("_live")),
            gone.with_columns(pl.lit(False).alias("_live")),
        ],
        how="diagonal_relaxed",
    )
    delta_rows = int(state.get("delta_rows", 0)) + delta.height
    if delta_rows > COMPACT_ABOVE * max(courses, 1):
        table = read_snapshot(folder, state=state).filter(~pl.col("course_id").is_in(changed))
        if new is not None:
            table = pl.concat([table, new], how="diagonal_relaxed")
        _commit(folder, _parquet(folder, "base", table.sort("course_id")), [], courses, probe)
    elif delta.height:
        deltas = [*state["deltas"], _parquet(folder, "delta", delta)]
        _commit(folder, state["base"], deltas, courses, probe, delta_rows)
    else:
        _commit(folder, state["base"], state["deltas"], courses, probe, delta_rows)
    return Refresh(
        "incremental", rebuilt.len(), max(removed, 0), courses, 0.0, probe.newest, folder
    )


def _timed(done: Refresh, started: float) -> Refresh:
    done.seconds = time.perf_counter() - started
    return done


def is_stale(url: str, *, directory: Path | None = None) -> bool:
    """Whether a change was made since the snapshot (True when there is none)."""
    folder = directory or directory_for(url)
    state = None if folder is None else _state(folder)
    return state is None or _stale(Source(url), state)


def _stale(source: Source, state: dict[str, Any]) -> bool:
    mark = _as_time(state["mark"])
    assert mark is not None
    newest, after = _current_stamps(source, mark)
    return newest != _as_time(state["data_as_of"]) or after != int(state["after_mark"])


def _wanted_columns(schema: Sequence[str], measures: Sequence[str] | None) -> list[str]:
    if measures is None:
        return list(schema)
    dropped = {m for m in MEASURES if m not in measures}
    return [c for c in schema if not any(c.startswith(f"{m}_") for m in dropped)]


def select(
    table: pl.DataFrame, measures: Sequence[str] | None = None, filters: Filters | None = None
) -> pl.DataFrame:
    """The rows of ``filters`` and the score columns of ``measures`` (None: all)."""
    filters = filters or Filters()
    conditions = []
    if filters.site_ids:
        conditions.append(pl.col("site_id").is_in([int(v) for v in filters.site_ids]))
    if filters.practitioner_ids:
        conditions.append(
            pl.col("practitioner_id").is_in([int(v) for v in filters.practitioner_ids])
        )
    if filters.regions:
        conditions.append(pl.col("region").is_in(list(filters.regions)))
    if filters.course_ids:
        conditions.append(pl.col("course_id").is_in([int(v) for v in filters.course_ids]))
    if conditions:
        table = table.filter(pl.all_horizontal(conditions))
    return table.select(_wanted_columns(table.columns, measures))


def analysis_table(
    url: str,
    *,
    measures: Sequence[str] | None = None,
    filters: Filters | None = None,
    windows: Schedule = DEFAULT,
    directory: Path | None = None,
) -> Analysis:
    """The course table for a report, from the store refreshed first when stale (the web
    dashboard, `prolo report`, the API and exports call this)."""
    source = Source(url)
    folder = directory or directory_for(url)
    if folder is None or windows != DEFAULT:
        return _direct(source, measures, filters, windows)
    try:
        done = refresh(url, directory=folder)
    except (Busy, OSError):  # a writer holds the lock, or the folder cannot be written
        return _direct(source, measures, filters, windows)
    table = read_snapshot(folder, measures=measures)
    return Analysis(select(table, None, filters), done.data_as_of, done)


def _direct(
    source: Source,
    measures: Sequence[str] | None,
    filters: Filters | None,
    windows: Schedule,
) -> Analysis:
    newest = _as_time(_rows(source, _newest_sql())[0]["newest"])
    chosen = tuple(measures) if measures is not None else tuple(MEASURES)
    table = course_table(source.url, windows=windows, measures=chosen, filters=filters)
    return Analysis(table, newest, None)

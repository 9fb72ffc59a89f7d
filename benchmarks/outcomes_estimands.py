"""The estimand table without imputation (pain50@6m: evaluable, followed, successes, completers,
bounds) over synthetic registries of 100k and 1M courses, on SQLite and PostgreSQL, beside a
straightforward pandas implementation (per-course ``groupby`` loop, timed on a subsample and
scaled), a vectorised pandas one and hand-written DuckDB SQL over Parquet — all in one run —
plus multiple imputation (m = 20) on 100k courses. Each measurement runs in its own process so
that its peak memory (max RSS) is its own. Issue 6, item 9.

The analysis store (issue 17) is measured per database: *cold* (no snapshot: the course table
is extracted and written as Parquet, then the estimands), *warm* (snapshot current: read the
Parquet file, estimands), the *refresh* after 1% of the courses changed (their NRS assessments
re-stamped), and *after 1% changed* (refresh + read + estimands). Targets: warm ≤ 2× DuckDB's
time, cold ≤ 6×, the 1% refresh ≤ 10% of a cold build.

    uv run python benchmarks/outcomes_estimands.py --sizes 100000 1000000 \
        --databases sqlite postgresql

Registries are generated once with ``prolo synth`` into benchmarks/out/ and reused.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from peak_memory import peak_memory_mb

OUT = Path(__file__).parent / "out"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFINITION = "pain50@6m"


def registry(kind: str, size: int) -> str:
    """A synthetic registry of ``size`` patients (one course each), made once and reused."""
    from sqlalchemy import create_engine, text

    from prolo.registry.setup import initialise
    from prolo.synth import params, run

    if kind == "sqlite":
        path = OUT / f"registry-{size}.db"
        url = f"sqlite:///{path}"
        if path.exists():
            return url
    else:
        name = f"prolo_bench_{size}"
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        admin = create_engine(
            PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if exists:
                return url
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    started = time.perf_counter()
    initialise(url, admin_password="benchmark password")
    run.to_database(url, size, 1, params.load(None))
    print(f"  (generated {size:,} patients into {kind} in {time.perf_counter() - started:.0f} s)")
    return url


def export_parquet(url: str, size: int) -> Path:
    """The raw rows the baselines start from: NRS assessments, first injections, courses."""
    folder = OUT / f"parquet-{size}"
    if (folder / "assessments.parquet").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    queries = {
        "assessments": "SELECT course_id, assessed_on, score FROM assessments "
        "WHERE instrument = 'NRS' AND scorable AND retired_at IS NULL",
        "sessions": "SELECT course_id, MIN(session_date) AS index_date FROM injection_sessions "
        "WHERE retired_at IS NULL GROUP BY course_id",
        "courses": "SELECT id AS course_id, start_date FROM treatment_courses "
        "WHERE retired_at IS NULL",
    }
    for name, sql in queries.items():
        frame = pd.read_sql_query(sql, connection)
        for column in ("assessed_on", "index_date", "start_date"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column])
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    connection.close()
    return folder


# --- implementations: each returns (evaluable, followed, successes) -------------------------


def ours(url: str) -> tuple[int, int, int]:
    from prolo.outcomes.estimands import estimand_table
    from prolo.outcomes.extract import course_table

    table = estimand_table(
        course_table(url, measures=["nrs_back"], covariates=False), DEFINITION, with_models=False
    )
    c = table.counts
    return c["evaluable"], c["observed"], c["successes"]


def ours_with_imputation(job: tuple[str, Path]) -> tuple[int, int, int]:
    """Multiple imputation (m = 20) over the course table of a current store."""
    from prolo.outcomes.estimands import estimand_table
    from prolo.outcomes.store import analysis_table

    url, folder = job
    analysis = analysis_table(url, measures=["nrs_back"], directory=folder)
    table = estimand_table(analysis.table, DEFINITION, imputations=20)
    c = table.counts
    return c["evaluable"], c["observed"], c["successes"]


def from_store(job: tuple[str, Path]) -> tuple[int, int, int]:
    """The estimands through the analysis store (refreshed first when stale), as reports do."""
    from prolo.outcomes.estimands import estimand_table
    from prolo.outcomes.store import analysis_table

    url, folder = job
    analysis = analysis_table(url, measures=["nrs_back"], directory=folder)
    c = estimand_table(analysis.table, DEFINITION, with_models=False).counts
    return c["evaluable"], c["observed"], c["successes"]


def refresh_only(job: tuple[str, Path]) -> str:
    from prolo.outcomes.store import refresh

    url, folder = job
    done = refresh(url, directory=folder)
    return f"{done.kind}: {done.courses:,} rebuilt"


def change_one_percent(url: str) -> None:
    """Re-stamp the NRS assessments of every hundredth course (a correction, as far as the
    store can tell)."""
    import datetime as dt

    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    now = dt.datetime.now(dt.UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if url.startswith("sqlite") else now
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE assessments SET updated_at = :now "
                "WHERE instrument = 'NRS' AND course_id % 100 = 0"
            ),
            {"now": stamp},
        )
    engine.dispose()


def _days(folder: Path) -> pd.DataFrame:
    a = pd.read_parquet(folder / "assessments.parquet")
    s = pd.read_parquet(folder / "sessions.parquet")
    c = pd.read_parquet(folder / "courses.parquet")
    c = c.merge(s, on="course_id", how="left")
    c["index_date"] = c["index_date"].fillna(c["start_date"])
    a = a.merge(c[["course_id", "index_date"]], on="course_id")
    a["day"] = (a["assessed_on"] - a["index_date"]).dt.days
    return a


def pandas_vectorised(folder: Path) -> tuple[int, int, int]:
    a = _days(folder)
    base = (
        a[a["day"].between(-30, 0)]
        .sort_values(["course_id", "day"])
        .drop_duplicates("course_id", keep="last")
    )
    six = a[a["day"].between(150, 240)].assign(dist=lambda f: (f["day"] - 182).abs())
    six = six.sort_values(["course_id", "dist", "day"]).drop_duplicates("course_id", keep="first")
    both = base[["course_id", "score"]].merge(
        six[["course_id", "score"]], on="course_id", how="left", suffixes=("_b", "_f")
    )
    evaluable = both[both["score_b"] > 0]
    followed = evaluable[evaluable["score_f"].notna()]
    success = ((followed["score_b"] - followed["score_f"]) / followed["score_b"] >= 0.5).sum()
    return len(evaluable), len(followed), int(success)


def pandas_loop(job: tuple[Path, int]) -> tuple[int, int, int]:
    """What an analyst writes first: one Python iteration per course (on ``sample`` courses)."""
    folder, sample = job
    a = _days(folder)
    keep = a["course_id"].drop_duplicates().head(sample)
    a = a[a["course_id"].isin(keep)]
    evaluable = followed = successes = 0
    for _, rows in a.groupby("course_id"):
        base_rows = rows[rows["day"].between(-30, 0)]
        if base_rows.empty:
            continue
        baseline = base_rows.sort_values("day").iloc[-1]["score"]
        if baseline <= 0:
            continue
        evaluable += 1
        window = rows[rows["day"].between(150, 240)]
        if window.empty:
            continue
        followed += 1
        window = window.assign(dist=(window["day"] - 182).abs()).sort_values(["dist", "day"])
        successes += int((baseline - window.iloc[0]["score"]) / baseline >= 0.5)
    return evaluable, followed, successes


def duckdb_sql(folder: Path) -> tuple[int, int, int]:
    row = duckdb.sql(f"""
        WITH c AS (
            SELECT c.course_id, COALESCE(s.index_date, c.start_date) AS index_date
            FROM '{folder}/courses.parquet' c
            LEFT JOIN '{folder}/sessions.parquet' s USING (course_id)
        ), a AS (
            SELECT a.course_id, a.score, date_diff('day', c.index_date, a.assessed_on) AS day
            FROM '{folder}/assessments.parquet' a JOIN c USING (course_id)
        ), b AS (
            SELECT course_id, arg_max(score, day) AS base FROM a WHERE day BETWEEN -30 AND 0
            GROUP BY course_id
        ), f AS (
            SELECT course_id, arg_min(score, abs(day - 182) * 10000 + day) AS follow FROM a
            WHERE day BETWEEN 150 AND 240 GROUP BY course_id
        )
        SELECT count(*) FILTER (WHERE base > 0),
               count(follow) FILTER (WHERE base > 0),
               count(*) FILTER (WHERE base > 0 AND (base - follow) / base >= 0.5)
        FROM b LEFT JOIN f USING (course_id)
    """).fetchall()[0]
    return int(row[0]), int(row[1]), int(row[2])


# --- measuring --------------------------------------------------------------------------------


def _child(function: Callable[..., Any], argument: Any, queue: Any) -> None:
    # Imports are not what is measured: load them before the clock starts.
    import prolo.outcomes.estimands
    import prolo.outcomes.extract
    import prolo.outcomes.store  # noqa: F401

    # A server has its database drivers loaded; a fresh child would time their import.
    target = argument[0] if isinstance(argument, tuple) else argument
    if str(target).startswith("postgresql"):
        import adbc_driver_postgresql.dbapi  # noqa: F401
        import psycopg  # noqa: F401

    started = time.perf_counter()
    result = function(argument)
    seconds = time.perf_counter() - started
    peak_mb = peak_memory_mb()
    queue.put((seconds, peak_mb, result))


def measure(function: Callable[..., Any], argument: Any) -> tuple[float, float, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(function, argument, queue))
    process.start()
    while True:
        try:
            outcome = queue.get(timeout=5)
            break
        except Exception:  # the queue is empty: is the child still alive?
            if not process.is_alive():
                raise RuntimeError(
                    f"{function.__name__} failed (exit {process.exitcode})"
                ) from None
    process.join()
    return outcome  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--loop-sample", type=int, default=2_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print(
        f"{'courses':>10} {'implementation':<48}{'seconds':>9}{'peak MB':>9}"
        "  evaluable/followed/successes"
    )
    for size in args.sizes:
        urls = {kind: registry(kind, size) for kind in args.databases}
        folder = export_parquet(registry("sqlite", size), size)
        rows: list[tuple[str, float, float, Any]] = []
        store_rows: dict[str, dict[str, float]] = {}
        for kind, url in urls.items():
            rows.append((f"prolo: {kind} → Polars → estimands", *measure(ours, url)))
            store = OUT / f"analysis-{kind}-{size}"
            shutil.rmtree(store, ignore_errors=True)
            job = (url, store)
            timed = {
                "cold": measure(from_store, job),
                "warm": measure(from_store, job),
            }
            shutil.rmtree(store, ignore_errors=True)
            timed["cold build"] = measure(refresh_only, job)
            change_one_percent(url)
            timed["1% refresh"] = measure(refresh_only, job)
            change_one_percent(url)
            timed["after 1% changed"] = measure(from_store, job)
            for stage, outcome in timed.items():
                rows.append((f"prolo store {kind}: {stage}", *outcome))
            store_rows[kind] = {stage: outcome[0] for stage, outcome in timed.items()}
        duck = measure(duckdb_sql, folder)
        rows.append(("DuckDB SQL over Parquet (the practical limit)", *duck))
        rows.append(("pandas vectorised over Parquet", *measure(pandas_vectorised, folder)))
        loop = measure(pandas_loop, (folder, args.loop_sample))
        scale = size / args.loop_sample
        rows.append(
            (
                f"pandas per-course loop (×{scale:.0f} from {args.loop_sample:,})",
                loop[0] * scale,
                loop[1],
                loop[2],
            )
        )
        if size <= 100_000 and "sqlite" in urls:
            rows.append(
                (
                    "prolo store, multiple imputation m=20 (sqlite)",
                    *measure(
                        ours_with_imputation, (urls["sqlite"], OUT / f"analysis-sqlite-{size}")
                    ),
                )
            )
        for name, seconds, peak, result in rows:
            print(f"{size:>10,} {name:<48}{seconds:>9.2f}{peak:>9.0f}  {result}")
        best = duck[0]
        loop_seconds = next(r[1] for r in rows if r[0].startswith("pandas per-course"))
        vector_seconds = next(r[1] for r in rows if r[0].startswith("pandas vectorised"))
        for kind, stages in store_rows.items():
            print(
                f"{'':>10} store {kind}: warm {stages['warm'] / best:.1f}× DuckDB (target ≤ 2), "
                f"cold {stages['cold'] / best:.1f}× (≤ 6), 1% refresh "
                f"{stages['1% refresh'] / stages['cold build']:.0%} of a cold build (≤ 10%)"
            )
        for name, seconds, _, _ in rows:
            if name.startswith("prolo:"):
                print(
                    f"{'':>10} {name}: {seconds / best:.1f}× DuckDB's time, "
                    f"{loop_seconds / seconds:.0f}× faster than the pandas loop, "
                    f"{seconds / vector_seconds:.1f}× vectorised pandas' time"
                )


if __name__ == "__main__":
    main()

"""Benchmark: synthetic registries written through the bulk import path, beside plain baselines.

For each size (patients) and database (SQLite file in WAL mode; PostgreSQL on 127.0.0.1:5432)
one child process generates the registry chunk by chunk and writes it through
``prolo.interop.bulk`` (every row validated; ``executemany`` on SQLite, ``COPY`` on
PostgreSQL). Printed per run:

* wall time; all rows and rows/s; assessment rows and assessment rows/s over the whole run;
* assessment rows/s of the assessment stage alone (validate + score + write of that table);
* peak memory (``ru_maxrss`` of the child, so each run is measured alone).

Baselines measured in the same run, on the same assessment rows (the import frames of the
10k and 100k registries): pandas ``DataFrame.to_sql`` into a new table, and a plain
``executemany`` of pre-built tuples into the real ``assessments`` table — writing without any
validation or scoring, the floor a validated import is compared with.

Run: ``uv run python benchmarks/synth_import.py [--sizes 10000,100000,1000000]
[--databases sqlite,postgresql]``. Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_database() -> str:
    from sqlalchemy import create_engine, text

    name = f"prolo_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _new_url(kind: str, folder: Path) -> str:
    return (
        f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        if kind == "sqlite"
        else (_postgres_database())
    )


def child_synth(kind: str, patients: int, folder: Path) -> dict[str, Any]:
    """One import run (in its own process, for an honest peak memory)."""
    from prolo.registry.setup import initialise
    from prolo.synth.params import load
    from prolo.synth.run import to_database

    url = _new_url(kind, folder)
    try:
        initialise(url, admin_password="benchmark admin password")
        started = time.perf_counter()
        report = to_database(url, patients, 1, load())
        seconds = time.perf_counter() - started
    finally:
        from prolo.db import engine_for

        engine_for(url).dispose()
        _drop(url)
    return {
        "seconds": seconds,
        "rows": sum(report.rows.values()),
        "assessments": report.rows["assessments"],
        "assessment_stage_seconds": report.seconds["assessments"],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pain50@6m": report.truth["success_rate"]["pain50@6m"],
        "completers": report.truth["completers"]["pain50@6m"]["rate"],
    }


def child_baseline(kind: str, patients: int, folder: Path) -> dict[str, Any]:
    """to_sql and plain executemany of the same assessment rows, no validation."""
    import pandas as pd

    from prolo.registry.setup import initialise
    from prolo.synth.generate import Synthesis
    from prolo.synth.params import load

    frames = [
        t["assessments"] for _, t in Synthesis(patients, 1, load()).batches() if "assessments" in t
    ]
    rows = pd.concat(frames, ignore_index=True)
    rows["assessed_on"] = rows["assessed_on"].dt.strftime("%Y-%m-%d")
    out: dict[str, Any] = {"assessments": len(rows)}
    url = _new_url(kind, folder)
    try:
        initialise(url, admin_password="benchmark admin password")
        from prolo.db import engine_for

        engine = engine_for(url)
        started = time.perf_counter()
        with engine.begin() as connection:
            rows.to_sql("baseline_to_sql", connection, index=False, chunksize=100_000)
        out["to_sql_seconds"] = time.perf_counter() - started
        stamp = "2026-01-01 00:00:00"
        tuples = [
            (
                int(r[0]),
                int(r[1]),
                int(r[2]),
                r[3],
                r[4],
                r[5],
                r[6],
                1.0,
                1.0,
                True,
                False,
                "[]",
                0,
                "baseline",
                stamp,
                stamp,
            )
            for r in rows[
                ["id", "patient_id", "course_id", "instrument", "assessed_on", "source", "items"]
            ].itertuples(index=False, name=None)
        ]
        mark = "?" if kind == "sqlite" else "%s"
        sql = (
            "INSERT INTO assessments (id, patient_id, course_id, instrument, assessed_on, source, "
            "items, score, raw_score, scorable, score_only, flags, day, time_point, created_at, "
            f"updated_at) VALUES ({', '.join([mark] * 16)})"
        )
        raw = engine.raw_connection()  # the driver's own connection: no validation at all
        try:
            cursor = raw.cursor()
            if kind == "sqlite":
                cursor.execute("PRAGMA foreign_keys=OFF")  # outside a transaction to take effect
                cursor.execute("BEGIN")
            else:
                cursor.execute("SET session_replication_role = replica")
            started = time.perf_counter()
            cursor.executemany(sql, tuples)
            raw.commit()
            out["executemany_seconds"] = time.perf_counter() - started
            if kind == "postgresql":
                out["copy_seconds"] = _copy_baseline(raw, rows, stamp)
        finally:
            raw.close()
    finally:
        from prolo.db import engine_for

        engine_for(url).dispose()
        _drop(url)
    return out


def _copy_baseline(raw: Any, rows: Any, stamp: str) -> float:
    """PostgreSQL's raw floor: the same rows as CSV written by pyarrow, then ``COPY``."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    cursor = raw.cursor()
    cursor.execute("TRUNCATE assessments CASCADE")
    raw.commit()
    started = time.perf_counter()
    n = len(rows)
    table = pa.table(
        {
            "id": rows["id"].astype("int64"),
            "patient_id": rows["patient_id"].astype("int64"),
            "course_id": rows["course_id"].astype("int64"),
            "instrument": rows["instrument"],
            "assessed_on": rows["assessed_on"],
            "source": rows["source"],
            "items": rows["items"],
            "score": pa.array([1.0] * n),
            "raw_score": pa.array([1.0] * n),
            "scorable": pa.array([True] * n),
            "score_only": pa.array([False] * n),
            "flags": pa.array(["[]"] * n),
            "day": pa.array([0] * n),
            "time_point": pa.array(["baseline"] * n),
            "created_at": pa.array([stamp] * n),
            "updated_at": pa.array([stamp] * n),
        }
    )
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    names = ", ".join(table.column_names)
    with cursor.copy(f"COPY assessments ({names}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())
    raw.commit()
    return time.perf_counter() - started


def run_child(mode: str, kind: str, patients: int, folder: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--databases",
        kind,
        "--sizes",
        str(patients),
        "--folder",
        str(folder),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--baseline-sizes", default="10000,100000")
    parser.add_argument("--child", choices=["synth", "baseline"])
    parser.add_argument("--folder", default=None)
    args = parser.parse_args()
    kinds = args.databases.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(args.folder or tempfile.mkdtemp(prefix="prolo-bench-"))
    if args.child:
        work = child_synth if args.child == "synth" else child_baseline
        print(json.dumps(work(kinds[0], sizes[0], folder)))
        return
    print(
        f"{'db':<11}{'patients':>10}{'seconds':>9}{'rows':>11}{'rows/s':>9}"
        f"{'assess':>11}{'assess/s':>10}{'stage/s':>9}{'peak MB':>9}  truth/completers"
    )
    whole_run: dict[tuple[str, int], float] = {}
    for kind in kinds:
        for patients in sizes:
            r = run_child("synth", kind, patients, folder)
            if "error" in r:
                print(f"{kind:<11}{patients:>10}  failed: {r['error']}")
                continue
            print(
                f"{kind:<11}{patients:>10}{r['seconds']:>9.1f}{r['rows']:>11}"
                f"{r['rows'] / r['seconds']:>9.0f}{r['assessments']:>11}"
                f"{r['assessments'] / r['seconds']:>10.0f}"
                f"{r['assessments'] / r['assessment_stage_seconds']:>9.0f}{r['peak_mb']:>9.0f}"
                f"  {r['pain50@6m']:.3f}/{r['completers']:.3f}"
            )
            whole_run[(kind, patients)] = r["assessments"] / r["seconds"]
    print("\nbaselines (same assessment rows, no validation, no scoring)")
    print(
        f"{'db':<11}{'patients':>10}{'assess':>11}{'to_sql/s':>10}{'executemany/s':>15}"
        f"{'COPY/s':>10}{'import ÷ raw':>14}"
    )
    for kind in kinds:
        for patients in [int(s) for s in args.baseline_sizes.split(",") if s]:
            b = run_child("baseline", kind, patients, folder)
            if "error" in b:
                print(f"{kind:<11}{patients:>10}  failed: {b['error']}")
                continue
            raw_rate = b["assessments"] / min(
                b["executemany_seconds"], b.get("copy_seconds", float("inf"))
            )
            imported = whole_run.get((kind, patients))
            print(
                f"{kind:<11}{patients:>10}{b['assessments']:>11}"
                f"{b['assessments'] / b['to_sql_seconds']:>10.0f}"
                f"{b['assessments'] / b['executemany_seconds']:>15.0f}"
                + (
                    f"{b['assessments'] / b['copy_seconds']:>10.0f}"
                    if "copy_seconds" in b
                    else f"{'-':>10}"
                )
                + (f"{imported / raw_rate:>14.2f}" if imported else f"{'-':>14}")
            )
    print(
        "import ÷ raw: whole-run assessment rows/s of the validated, scored, audited import "
        "(all tables) over the fastest raw write of the same assessment rows (target ≥ 0.3)"
    )
    if not os.listdir(folder):
        folder.rmdir()


if __name__ == "__main__":
    main()

"""Benchmark: synthetic registries written through the bulk import path, beside raw writes of
the very same rows in the same run.

For each size (patients) and database (SQLite file in WAL mode; PostgreSQL on 127.0.0.1:5432)
one child process:

1. generates the registry chunk by chunk and writes it through ``prolo.interop.bulk`` into a
   fresh database (every row validated, scored and audited; the due questionnaires created) —
   the **import**, timed from the first batch to the last index rebuilt;
2. reads back every row the import wrote, of every table (the clinical tables and the due
   questionnaires), untimed: on SQLite as Python tuples, on PostgreSQL as ``COPY … TO``
   CSV text;
3. writes those same rows into fresh databases without any validation — the **raw** floors:
   ``executemany`` of the pre-built tuples on SQLite, ``COPY`` of the CSV on PostgreSQL, one
   transaction per table, (a) into the real schema (all indexes, foreign keys enforced) and
   (b) with foreign keys off (SQLite ``PRAGMA foreign_keys=OFF``; PostgreSQL
   ``session_replication_role = replica``, which skips the foreign-key triggers).

Printed per run: wall time, rows and rows/s over the whole run, assessment rows/s, peak
memory of the import (``ru_maxrss`` before the read-back), both raw rates and import ÷ raw
for each (target ≥ 0.3). Progress goes to stderr.

Run: ``uv run python benchmarks/synth_import.py [--sizes 10000,100000,1000000]
[--databases sqlite,postgresql] [--keep-as NAME]``. ``--keep-as prolo_bench_1000000`` (with one
size and one database) keeps the imported registry for ``benchmarks/outcomes_estimands.py``
(PostgreSQL database ``NAME``; SQLite ``benchmarks/out/NAME.db``, e.g.
``registry-1000000``). Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from peak_memory import peak_memory_mb

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


def _say(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _loaded_tables() -> list[str]:
    """Every table the import writes many rows into, parents before children."""
    from prolo.interop.tables import TABLE_ORDER, TABLES

    return [*(TABLES[name].table.name for name in TABLE_ORDER), "due_questionnaires"]


def _keep(url: str, name: str) -> None:
    """Keep the imported registry as database ``name`` (PostgreSQL; one of that name is
    dropped first) or as ``benchmarks/out/<name>.db`` (SQLite), for
    ``benchmarks/outcomes_estimands.py`` to reuse."""
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite"):
        import sqlite3

        path = Path(url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as connection:  # everything into the file, no -wal beside it
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        target = Path(__file__).parent / "out" / f"{name}.db"
        target.parent.mkdir(exist_ok=True)
        target.unlink(missing_ok=True)
        path.replace(target)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        _say(f"kept as {target}")
        return
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" RENAME TO "{name}"'))
    admin.dispose()
    _say(f"kept as PostgreSQL database {name}")


def child(kind: str, patients: int, folder: Path, keep_as: str | None = None) -> dict[str, Any]:
    """The import, then the raw writes of the same rows (in its own process, for an honest
    peak memory)."""
    from prolo.registry.setup import initialise
    from prolo.synth.params import load
    from prolo.synth.run import to_database

    url = _new_url(kind, folder)
    done = [0]

    def progress(size: int) -> None:
        done[0] += size
        if size:
            _say(f"{kind} {patients}: {done[0]} patients imported")

    imported = False  # a failed import is dropped, not kept
    try:
        initialise(url, admin_password="benchmark admin password")
        started = time.perf_counter()
        report = to_database(url, patients, 1, load(), progress=progress)
        seconds = time.perf_counter() - started
        imported = True
        peak_mb = peak_memory_mb()
        _say(f"{kind} {patients}: import {seconds:.1f} s; reading the rows back")
        dump = _read_back(url)
    finally:
        from prolo.db import engine_for

        engine_for(url).dispose()
        if keep_as and imported:
            _keep(url, keep_as)
        else:
            _drop(url)
    rows = sum(count for _, count, _ in dump)
    out: dict[str, Any] = {
        "seconds": seconds,
        "rows": rows,
        "assessments": report.rows["assessments"],
        "assessment_stage_seconds": report.seconds["assessments"],
        "peak_mb": peak_mb,
        "pain50@6m": report.truth["success_rate"]["pain50@6m"],
        "completers": report.truth["completers"]["pain50@6m"]["rate"],
    }
    for variant in ("schema", "fk_off"):
        _say(f"{kind} {patients}: raw write ({variant})")
        out[f"raw_{variant}_seconds"] = _raw_write(kind, folder, dump, variant)
    return out


def _read_back(url: str) -> list[tuple[str, int, Any]]:
    """(table, row count, rows): tuples on SQLite, ``COPY`` CSV bytes on PostgreSQL."""
    from prolo.db import engine_for
    from prolo.models import metadata

    raw = engine_for(url).raw_connection()
    dump = []
    try:
        cursor = raw.cursor()
        for name in _loaded_tables():
            columns = ", ".join(c.name for c in metadata.tables[name].columns)
            if url.startswith("sqlite"):
                rows: Any = cursor.execute(f"SELECT {columns} FROM {name}").fetchall()
                dump.append((name, len(rows), (columns, rows)))
            else:
                chunks: list[bytes] = []
                pieces: list[bytes] = []  # COPY gives about a row at a time: 16 MB chunks
                size = 0
                with cursor.copy(f"COPY {name} ({columns}) TO STDOUT (FORMAT csv)") as copy:
                    for piece in copy:
                        pieces.append(bytes(piece))
                        size += len(piece)
                        if size >= 1 << 24:
                            chunks.append(b"".join(pieces))
                            pieces, size = [], 0
                chunks.append(b"".join(pieces))
                cursor.execute(f"SELECT count(*) FROM {name}")
                # Kept as the pieces COPY gave (no joined copy: at 1M patients they are GBs).
                dump.append((name, int(cursor.fetchone()[0]), (columns, chunks)))
    finally:
        raw.close()
    return dump


def _raw_write(kind: str, folder: Path, dump: list[tuple[str, int, Any]], variant: str) -> float:
    """Seconds to write ``dump`` into a fresh, initialised database, one transaction per
    table, with no validation at all."""
    from prolo.db import engine_for
    from prolo.registry.setup import initialise

    url = _new_url(kind, folder)
    try:
        initialise(url, admin_password="benchmark admin password")
        raw = engine_for(url).raw_connection()  # the driver's own connection
        try:
            cursor = raw.cursor()
            if kind == "sqlite" and variant == "fk_off":
                cursor.execute("PRAGMA foreign_keys=OFF")  # outside a transaction to take effect
            if kind == "postgresql" and variant == "fk_off":
                cursor.execute("SET session_replication_role = replica")
                raw.commit()
            started = time.perf_counter()
            for name, _, (columns, rows) in dump:
                if kind == "sqlite":
                    marks = ", ".join("?" * len(columns.split(", ")))
                    cursor.execute("BEGIN")
                    cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", rows)
                    cursor.execute("COMMIT")
                else:
                    with cursor.copy(f"COPY {name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                        for chunk in rows:
                            copy.write(chunk)
                    raw.commit()
            return time.perf_counter() - started
        finally:
            raw.close()
    finally:
        engine_for(url).dispose()
        _drop(url)


def run_child(kind: str, patients: int, folder: Path, keep_as: str | None) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--databases",
        kind,
        "--sizes",
        str(patients),
        "--folder",
        str(folder),
        *(["--keep-as", keep_as] if keep_as else []),
    ]
    # stderr passes through: the child's progress lines, and its traceback if it fails.
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        return {"error": f"exit status {done.returncode} (traceback above)"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--folder", default=None)
    parser.add_argument(
        "--keep-as",
        default=None,
        help="keep the imported registry: PostgreSQL database NAME (an existing one is dropped) "
        "or benchmarks/out/NAME.db (SQLite); one size and one database only",
    )
    args = parser.parse_args()
    kinds = args.databases.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.keep_as and len(kinds) * len(sizes) != 1:
        parser.error("--keep-as keeps one registry: give one size and one database")
    folder = Path(args.folder or tempfile.mkdtemp(prefix="prolo-bench-"))
    if args.child:
        print(json.dumps(child(kinds[0], sizes[0], folder, args.keep_as)))
        return
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    print(
        f"{'db':<11}{'patients':>9}{'seconds':>9}{'rows':>10}{'rows/s':>9}{'assess/s':>10}"
        f"{'stage/s':>9}{'peak MB':>8}{'raw/s':>10}{'÷raw':>6}{'raw fk-off/s':>13}{'÷raw':>6}"
        "  truth/completers"
    )
    for kind in kinds:
        for patients in sizes:
            r = run_child(kind, patients, folder, args.keep_as)
            if "error" in r:
                print(f"{kind:<11}{patients:>9}  failed: {r['error']}")
                continue
            rate = r["rows"] / r["seconds"]
            raw = r["rows"] / r["raw_schema_seconds"]
            raw_off = r["rows"] / r["raw_fk_off_seconds"]
            print(
                f"{kind:<11}{patients:>9}{r['seconds']:>9.1f}{r['rows']:>10}{rate:>9.0f}"
                f"{r['assessments'] / r['seconds']:>10.0f}"
                f"{r['assessments'] / r['assessment_stage_seconds']:>9.0f}{r['peak_mb']:>8.0f}"
                f"{raw:>10.0f}{rate / raw:>6.2f}{raw_off:>13.0f}{rate / raw_off:>6.2f}"
                f"  {r['pain50@6m']:.3f}/{r['completers']:.3f}",
                flush=True,
            )
    print(
        "rows: every row the import wrote (all clinical tables and the due questionnaires). "
        "raw/s: the same rows written without validation (SQLite executemany of tuples, "
        "PostgreSQL COPY), one transaction per table, into the real schema; raw fk-off/s: the "
        "same with foreign keys off. ÷raw: the import's whole-run rows/s over that (target ≥ 0.3)."
    )
    if not os.listdir(folder):
        folder.rmdir()


if __name__ == "__main__":
    main()

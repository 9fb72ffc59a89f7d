"""``prolo backup`` and ``prolo restore`` on SQLite and PostgreSQL.

SQLite: the online backup API copies pages while the server keeps serving (writers wait briefly,
readers never); the manifest is computed from the copy, which is one consistent snapshot.
PostgreSQL: ``pg_dump -Fc`` runs inside a snapshot exported by the transaction that computes the
manifest, so the dump and its checksums describe exactly the same state.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from prolo.backup.manifest import (
    BackupError,
    TableDigest,
    differences,
    manifest_path,
    read_manifest,
    table_digests,
    write_manifest,
)


@dataclass(frozen=True)
class Outcome:
    file: Path
    tables: dict[str, TableDigest]

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.tables.values())


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore read it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_digests(path: Path) -> dict[str, TableDigest]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            check = connection.execute(text("PRAGMA integrity_check")).scalar()
            if check != "ok":
                raise BackupError(f"{path}: integrity check failed: {check}")
            return table_digests(connection)
    finally:
        engine.dispose()


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def backup(url: str, out: Path) -> Outcome:
    """Write a verified backup of the database at ``url`` to ``out`` (and its manifest)."""
    backend = make_url(url).get_backend_name()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    if backend == "sqlite":
        source = _sqlite_file(url)
        if not source.exists():
            raise BackupError(f"{source}: no such database file")
        partial.unlink(missing_ok=True)
        _copy_sqlite(source, partial)
        digests = _sqlite_digests(partial)
    elif backend == "postgresql":
        digests = _dump_postgresql(url, partial)
    else:
        raise BackupError(f"cannot back up a {backend} database")
    write_manifest(manifest_path(out), backend, digests)
    partial.replace(out)
    verify_backup(out)
    return Outcome(out, digests)


def _dump_postgresql(url: str, partial: Path) -> dict[str, TableDigest]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            digests = table_digests(connection)
            done = subprocess.run(
                [
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    _libpq_url(url),
                ],
                capture_output=True,
                text=True,
            )
            connection.rollback()
    finally:
        engine.dispose()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return digests


def verify_backup(file: Path) -> dict[str, TableDigest]:
    """Check that a backup file is whole: for SQLite its content matches the manifest."""
    backend, expected = read_manifest(manifest_path(file))
    if not file.exists():
        raise BackupError(f"{file}: no such backup file")
    if backend == "sqlite":
        problems = differences(expected, _sqlite_digests(file))
        if problems:
            raise BackupError(f"{file}: " + "; ".join(problems))
    else:
        listed = subprocess.run(["pg_restore", "--list", str(file)], capture_output=True, text=True)
        if listed.returncode != 0:
            raise BackupError(f"{file}: not a readable pg_dump archive: {listed.stderr.strip()}")
    return expected


def restore(file: Path, url: str) -> Outcome:
    """Replace the database at ``url`` with the backup, then verify it table by table."""
    backend, expected = read_manifest(manifest_path(file))
    target_backend = make_url(url).get_backend_name()
    if backend != target_backend:
        raise BackupError(f"a {backend} backup cannot be restored into a {target_backend} database")
    verify_backup(file)
    if backend == "sqlite":
        target = _sqlite_file(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Restore into a neighbour file first so a failure never leaves half a database.
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            staged = Path(scratch) / "restore.db"
            _copy_sqlite(file, staged)
            problems = differences(expected, _sqlite_digests(staged))
            if problems:
                raise BackupError("restored copy does not match: " + "; ".join(problems))
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.move(str(staged), target)
        found = _sqlite_digests(target)
    else:
        _restore_postgresql(file, url)
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                found = table_digests(connection)
        finally:
            engine.dispose()
    problems = differences(expected, found)
    if problems:
        raise BackupError("restored database does not match the backup: " + "; ".join(problems))
    return Outcome(file, found)


def _restore_postgresql(file: Path, url: str) -> None:
    # Tables of the target that the backup lacks would survive pg_restore --clean; drop the
    # schema's contents first so the result is exactly the backup.
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    done = subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={_libpq_url(url)}",
            str(file),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")

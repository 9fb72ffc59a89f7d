"""What a backup holds, table by table: row counts and content checksums.

A checksum is SHA-256 over every row in primary-key order, each value written by ``repr`` of what
the driver returns; two databases of the same kind with the same content give the same digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, MetaData, Table, inspect, select

MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str


def manifest_path(backup_file: Path) -> Path:
    return backup_file.with_name(backup_file.name + MANIFEST_SUFFIX)


def table_digests(connection: Connection) -> dict[str, TableDigest]:
    """Row count and content checksum of every table the connection sees, in one snapshot."""
    names = sorted(inspect(connection).get_table_names())
    metadata = MetaData()
    digests: dict[str, TableDigest] = {}
    for name in names:
        table = Table(name, metadata, autoload_with=connection)
        order = list(table.primary_key.columns) or list(table.columns)
        digest = hashlib.sha256()
        count = 0
        result = connection.execution_options(yield_per=5000).execute(
            select(table).order_by(*order)
        )
        for row in result:
            digest.update(repr(tuple(row)).encode())
            digest.update(b"\n")
            count += 1
        digests[name] = TableDigest(rows=count, sha256=digest.hexdigest())
    return digests


def write_manifest(path: Path, backend: str, digests: Mapping[str, TableDigest]) -> None:
    document = {
        "format": "prolo-backup-1",
        "backend": backend,
        "tables": {name: {"rows": d.rows, "sha256": d.sha256} for name, d in digests.items()},
    }
    path.write_text(json.dumps(document, indent=1, sort_keys=True))


def read_manifest(path: Path) -> tuple[str, dict[str, TableDigest]]:
    if not path.exists():
        raise BackupError(f"{path}: the backup's manifest is missing")
    document = json.loads(path.read_text())
    if document.get("format") != "prolo-backup-1":
        raise BackupError(f"{path}: not a Prolo Outcomes backup manifest")
    tables = {
        name: TableDigest(rows=int(entry["rows"]), sha256=str(entry["sha256"]))
        for name, entry in document["tables"].items()
    }
    return str(document["backend"]), tables


def differences(expected: Mapping[str, TableDigest], found: Mapping[str, TableDigest]) -> list[str]:
    """Each way ``found`` departs from ``expected``, as one readable line."""
    problems = []
    for name in sorted(set(expected) | set(found)):
        want, have = expected.get(name), found.get(name)
        if want is None:
            problems.append(f"table {name}: present but not in the backup")
        elif have is None:
            problems.append(f"table {name}: missing")
        elif want.rows != have.rows:
            problems.append(f"table {name}: {have.rows} rows, the backup has {want.rows}")
        elif want.sha256 != have.sha256:
            problems.append(f"table {name}: content differs from the backup (checksum)")
    return problems


class BackupError(Exception):
    """A backup or restore that could not be made or did not verify."""

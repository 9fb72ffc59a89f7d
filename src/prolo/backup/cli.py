"""`prolo backup` and `prolo restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prolo.cli_common import DatabaseOption, database_url, fail


def backup_command(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write.")],
    database: DatabaseOption = None,
) -> None:
    """Back up the registry (safe while serving); verified table by table before success."""
    from prolo.backup.manifest import BackupError, manifest_path
    from prolo.backup.service import backup

    try:
        outcome = backup(database_url(database), out)
    except BackupError as error:
        fail(str(error))
    typer.echo(
        f"backup {out} verified: {len(outcome.tables)} tables, {outcome.rows} rows "
        f"(manifest {manifest_path(out)})"
    )


def restore_command(
    file: Annotated[Path, typer.Argument(help="A backup made by `prolo backup`.")],
    database: DatabaseOption = None,
) -> None:
    """Replace the database with a backup; exit 0 only once every table matches it."""
    from prolo.backup.manifest import BackupError
    from prolo.backup.service import restore

    try:
        outcome = restore(file, database_url(database))
    except BackupError as error:
        fail(str(error))
    typer.echo(f"restored {file}: {len(outcome.tables)} tables, {outcome.rows} rows verified")

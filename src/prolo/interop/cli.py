"""``prolo import``: real data through the bulk import path (see docs/import.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prolo.cli_common import DatabaseOption, database_url, fail

MAX_SHOWN = 50


def announce_admin(password: str | None) -> None:
    """A new database got its first administrator: show the one-time password once."""
    if password is not None:
        typer.echo(f"first administrator: admin; one-time password (shown once): {password}")


def import_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="A folder of <table>.csv / <table>.parquet files, or such files."),
    ],
    database: DatabaseOption = None,
    batch_rows: Annotated[
        int, typer.Option(help="Rows per all-or-nothing batch (one transaction each).")
    ] = 100_000,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    check: Annotated[bool, typer.Option("--check", help="Validate only; write nothing.")] = False,
) -> None:
    """Import CSV/Parquet files with the API's rules; rejected rows are listed, and a batch
    with any rejected row writes nothing."""
    import numpy as np
    from rich.progress import Progress

    from prolo.errors import DomainError
    from prolo.interop import files
    from prolo.interop.bulk import Importer, ImportReport
    from prolo.interop.shape import ColumnError
    from prolo.registry.setup import initialise

    url = database_url(database)
    try:
        parts = files.discover(paths)
        if not parts:
            fail("no import files found (expected <table>.csv or <table>.parquet)")
        announce_admin(initialise(url).admin_password)
        importer = Importer(url)
        report = ImportReport()
        first_row: dict[str, int] = {}
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("importing", total=len(parts))
            for part in parts:
                bar.update(task, description=f"{part.table} ← {part.path.name}")
                for frame in files.read(part, batch_rows):
                    start = first_row.get(str(part.path), 1)
                    first_row[str(part.path)] = start + len(frame)
                    result = importer.import_batch(
                        {part.table: frame},
                        rows={part.table: np.arange(start, start + len(frame))},
                        sources={part.table: str(part.path)},
                        dry_run=check,
                    )
                    report.add(result)
                bar.advance(task)
    except (DomainError, ColumnError) as error:
        fail(str(error))
    for table, count in report.written.items():
        typer.echo(f"{table}: {count} rows {'valid' if check else 'written'}")
    for rejection in report.rejected[:MAX_SHOWN]:
        typer.echo(f"rejected: {rejection}", err=True)
    if report.rejected:
        more = len(report.rejected) - MAX_SHOWN
        if more > 0:
            typer.echo(f"… and {more} more rejected rows", err=True)
        fail(
            f"{report.batches_rejected} batch(es) rejected, nothing of them written; "
            f"{report.batches_written} written"
        )

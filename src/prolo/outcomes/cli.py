"""`prolo analysis refresh`: bring the analysis store (the course table as Parquet) up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prolo.cli_common import DatabaseOption, database_url, fail

app = typer.Typer(help="The analysis store reports read.", no_args_is_help=True)


@app.command("refresh")
def refresh_command(
    database: DatabaseOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild every course, not only the changed ones.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option(help="Store folder (default: PROLO_ANALYSIS_DIR, else beside the database)."),
    ] = None,
) -> None:
    """Rebuild the courses whose records changed since the last refresh (all when none),
    then print what was refreshed and how long it took."""
    from prolo.outcomes import store

    url = database_url(database)
    try:
        done = store.refresh(url, directory=directory, full=full, lock_seconds=60.0)
    except store.Busy as error:
        fail(f"--database: the database stayed locked by a writer for 60 s ({error})")
    except ValueError as error:
        fail(f"--database: {error}", 2)
    typer.echo(done.describe())

"""Options and helpers shared by every `prolo` command (kept free of heavy imports)."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (default: PROLO_DATABASE_URL, else sqlite:///prolo.db).",
        show_default=False,
    ),
]


def database_url(database: str | None) -> str:
    """The URL a command works on: ``--database`` if given, else the settings."""
    from prolo.settings import get_settings

    return database or get_settings().database_url


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clean line to standard error and exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)

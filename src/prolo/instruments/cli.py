"""`prolo score INSTRUMENT`: score a JSON array of item answers read from standard input."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer


def score_command(
    instrument: Annotated[str, typer.Argument(help="NRS, NRS_LEG, ODI, RMDQ, NDI, PGIC, …")],
) -> None:
    """Read a JSON array of item answers on standard input and print the score as JSON.

    Answers are numbers, true/false (RMDQ), null, or "not_asked" / "missing" / "refused".
    An invalid answer exits with status 2 and names the item.
    """
    from prolo.instruments.scoring import AnswerError, score

    try:
        answers = json.loads(sys.stdin.read())
    except json.JSONDecodeError as error:
        typer.echo(f"error: standard input is not JSON: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        result = score(instrument, answers)
    except KeyError as error:
        typer.echo(f"error: {error.args[0]}", err=True)
        raise typer.Exit(2) from None
    except AnswerError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result.as_dict()))

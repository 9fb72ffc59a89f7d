"""`prolo report`: the outcome report as JSON, HTML or PDF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from prolo.cli_common import DatabaseOption, database_url, fail


def report_command(
    database: DatabaseOption = None,
    format: Annotated[str, typer.Option("--format", help="json, html or pdf.")] = "json",
    definition: Annotated[
        list[str] | None, typer.Option(help="Success definition, e.g. pain50@6m; repeatable.")
    ] = None,
    site: Annotated[list[int] | None, typer.Option(help="Site id; repeatable.")] = None,
    practitioner: Annotated[
        list[int] | None, typer.Option(help="Practitioner id; repeatable.")
    ] = None,
    region: Annotated[list[str] | None, typer.Option(help="Spinal region; repeatable.")] = None,
    claim_low: Annotated[float, typer.Option(help="Lower end of the claimed success band.")] = 0.80,
    claim_high: Annotated[
        float, typer.Option(help="Upper end of the claimed success band.")
    ] = 0.90,
    imputations: Annotated[int, typer.Option(help="Imputations for multiple imputation.")] = 20,
    out: Annotated[
        Path | None, typer.Option(help="File to write (html/pdf; default report.*).")
    ] = None,
) -> None:
    """Estimands with intervals for each success definition, and the rest of the report."""
    from prolo.outcomes.extract import Filters
    from prolo.reports import render
    from prolo.reports.build import DEFAULT_DEFINITIONS, outcome_report

    if format not in ("json", "html", "pdf"):
        fail(f"--format: {format!r} is not json, html or pdf", 2)
    if not 0 <= claim_low <= claim_high <= 1:
        fail("--claim-low/--claim-high: need 0 ≤ low ≤ high ≤ 1", 2)
    try:
        report = outcome_report(
            database_url(database),
            definitions=tuple(definition)
            if definition
            else DEFAULT_DEFINITIONS[:1]
            if format == "json"
            else DEFAULT_DEFINITIONS,
            filters=Filters(site or [], practitioner or [], region or []),
            claim_band=(claim_low, claim_high),
            imputations=imputations,
        )
    except ValueError as error:
        fail(str(error), 2)
    if format == "json":
        typer.echo(json.dumps(report.as_dict(), default=str))
        return
    target = out or Path(f"report.{format}")
    if format == "html":
        target.write_text(render.html(report), encoding="utf-8")
    else:
        render.pdf(report, target)
    typer.echo(f"wrote {target}")

"""``prolo synth``: a synthetic registry with known truth, into a database or Parquet files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from prolo.cli_common import DatabaseOption, database_url, fail


def synth_command(
    patients: Annotated[int, typer.Option(min=1, help="Number of patients (one course each).")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same registry.")] = 1,
    database: DatabaseOption = None,
    truth: Annotated[Path, typer.Option(help="Where to write the truth as JSON.")] = Path(
        "synth-truth.json"
    ),
    params: Annotated[
        Path | None, typer.Option(help="JSON file overriding default parameters.")
    ] = None,
    mnar: Annotated[
        bool | None,
        typer.Option(
            "--mnar/--mar",
            help="Drop-out depends on the patient's own outcome (MNAR) or only on covariates "
            "(MAR). Default: as the parameters say (MNAR).",
            show_default=False,
        ),
    ] = None,
    trace_fraction: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Trace this fraction of the missed questionnaires of each time point (a random "
            "sample, double sampling); 0: no tracing.",
        ),
    ] = 0.0,
    trace_found: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of the traced courses that are found."),
    ] = 0.0,
    out: Annotated[
        Path | None, typer.Option(help="Write Parquet files to this folder instead of a database.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate a synthetic registry with known truth (DESIGN §5) through the import path."""
    import time

    from rich.progress import Progress

    from prolo.errors import DomainError
    from prolo.interop.cli import announce_admin
    from prolo.registry.setup import initialise
    from prolo.synth import params as params_module
    from prolo.synth import run

    try:
        chosen = params_module.load(params, mnar=mnar)
        if trace_fraction > 0:
            chosen = params_module.merged(
                chosen, {"tracing": {"fraction": trace_fraction, "found": trace_found}}
            )
    except (OSError, ValueError) as error:
        fail(f"cannot read the parameters: {error}")
    started = time.perf_counter()
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("patients", total=patients)

        def advance(count: int) -> None:
            bar.advance(task, count)

        try:
            if out is not None:
                report = run.to_parquet(out, patients, seed, chosen, progress=advance)
            else:
                url = database_url(database)
                announce_admin(initialise(url).admin_password)
                report = run.to_database(url, patients, seed, chosen, progress=advance)
        except DomainError as error:
            fail(str(error))
    seconds = time.perf_counter() - started
    truth.parent.mkdir(parents=True, exist_ok=True)
    truth.write_text(json.dumps(report.truth, indent=2) + "\n", encoding="utf-8")
    total = sum(report.rows.values())
    typer.echo(
        f"{patients} patients, {total} rows ({report.rows.get('assessments', 0)} assessments) "
        f"in {seconds:.1f} s; truth in {truth}"
    )
    rate = report.truth["success_rate"]["pain50@6m"]
    completers = report.truth["completers"]["pain50@6m"]["rate"]
    typer.echo(f"pain50@6m: true {rate:.3f}, completers only {completers:.3f}")

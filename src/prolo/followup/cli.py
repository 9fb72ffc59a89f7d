"""`prolo followup …`: send invitations and reminders, list what is due, show completeness."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from prolo.cli_common import DatabaseOption, database_url

app = typer.Typer(
    help="Follow-up questionnaires: sending, due lists, completeness.", no_args_is_help=True
)


@app.command("send")
def send(database: DatabaseOption = None) -> None:
    """Send today's invitations and reminders (default +3 and +7 days) over SMTP."""
    from prolo.db import engine_for, transaction
    from prolo.followup.sending import send_due
    from prolo.settings import get_settings

    with transaction(engine_for(database_url(database))) as session:
        report = send_due(session, today=dt.date.today(), settings=get_settings())
    typer.echo(str(report))


@app.command("due")
def due(
    site: Annotated[int | None, typer.Option(help="Site id.")] = None,
    state: Annotated[
        list[str] | None, typer.Option(help="upcoming, open, overdue, missed, answered.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """List due questionnaires, earliest first (tab-separated)."""
    from prolo.db import engine_for, transaction
    from prolo.followup.service import due_list
    from prolo.security.principal import system

    with transaction(engine_for(database_url(database))) as session:
        rows = due_list(
            session,
            actor=system(),
            today=dt.date.today(),
            site_id=site,
            states=set(state) if state else None,
        )
        typer.echo("site\tpatient\tcourse\ttime_point\tdue_on\tstate")
        for row in rows:
            d = row.as_dict()
            typer.echo(
                f"{d['site_id']}\t{d['external_id']}\t{d['course_id']}\t{d['time_point']}\t"
                f"{d['due_on']}\t{d['state']}"
            )


@app.command("completeness")
def completeness_command(
    by: Annotated[str, typer.Option(help="site, practitioner or time_point.")] = "time_point",
    database: DatabaseOption = None,
) -> None:
    """Answered ÷ due (due date passed), with a Wilson 95% interval."""
    from prolo.db import engine_for, transaction
    from prolo.followup.completeness import completeness
    from prolo.security.principal import system

    with transaction(engine_for(database_url(database))) as session:
        rows = completeness(session, actor=system(), today=dt.date.today(), by=by)
        typer.echo(f"{by}\tanswered\tdue\tcompleteness\t95% CI")
        for row in rows:
            low, high = row.interval()
            share = f"{row.proportion:.1%}" if row.proportion is not None else "-"
            ci = f"{low:.1%}–{high:.1%}" if low is not None and high is not None else "-"
            typer.echo(f"{row.key}\t{row.answered}\t{row.due}\t{share}\t{ci}")


@app.command("trace")
def trace(
    time_point: Annotated[
        str, typer.Option("--time-point", help="Follow-up time point, e.g. 6m.")
    ] = "6m",
    fraction: Annotated[
        float, typer.Option(help="Share of the missed questionnaires to trace (0–1].")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the random draw (reproducible).")] = 1,
    database: DatabaseOption = None,
) -> None:
    """Draw the tracing sample: a random share of the courses whose questionnaire at the time
    point was missed, to be traced by phone or letter (double sampling)."""
    from prolo.cli_common import fail
    from prolo.db import engine_for, transaction
    from prolo.errors import DomainError
    from prolo.followup.tracing import draw
    from prolo.security.principal import system

    try:
        with transaction(engine_for(database_url(database))) as session:
            result = draw(
                session,
                actor=system(),
                time_point=time_point,
                fraction=fraction,
                seed=seed,
                today=dt.date.today(),
            )
    except DomainError as error:
        fail(str(error), 2)
    typer.echo(
        f"{time_point}: drew {result.sampled} of {result.eligible} missed questionnaires "
        f"(probability {result.probability:.3f}, seed {seed}); draw {result.draw_id}"
    )

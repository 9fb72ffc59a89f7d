"""The ``prolo`` command. Heavy imports live inside the commands so that ``--help`` is instant."""

from __future__ import annotations

from typing import Annotated

import typer

from prolo.backup.cli import backup_command, restore_command
from prolo.cli_common import DatabaseOption, database_url, fail
from prolo.evidence.cli import app as evidence_app
from prolo.followup.cli import app as followup_app
from prolo.instruments.cli import score_command
from prolo.interop.cli import export_app, import_app
from prolo.outcomes.cli import app as analysis_app
from prolo.reports.cli import report_command
from prolo.security.cli import app as user_app
from prolo.synth.cli import synth_command

__all__ = ["app", "fail"]

app = typer.Typer(
    name="prolo",
    help="Prolo Outcomes: the prolotherapy registry, its follow-up and its honest statistics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(evidence_app, name="evidence")
app.add_typer(followup_app, name="followup")
app.add_typer(analysis_app, name="analysis")
app.command("score")(score_command)
app.command("report")(report_command)
app.command("synth")(synth_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

app.add_typer(user_app, name="user")


@app.command()
def init(database: DatabaseOption = None) -> None:
    """Create the database, run every migration and load the vocabularies."""
    from prolo.registry.setup import initialise

    url = database_url(database)
    report = initialise(url)
    typer.echo(f"database ready at {url} ({report.vocabulary_terms_added} vocabulary terms added)")
    if report.admin_password is not None:
        typer.echo(
            "first administrator: admin; one-time password (shown once, change it at first "
            f"login): {report.admin_password}"
        )


@db_app.command("upgrade")
def db_upgrade(
    database: DatabaseOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to a revision (default: the newest)."""
    from prolo.db import current_revision, engine_for, upgrade
    from prolo.interop.bulk_mode import ensure_schema_objects

    url = database_url(database)
    upgrade(url, revision)
    if revision == "head":  # an older revision's schema is the migrations' business
        ensure_schema_objects(engine_for(url))  # a bulk load killed part-way left some out
    typer.echo(f"database at revision {current_revision(url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    database: DatabaseOption = None,
) -> None:
    """Undo migrations down to a revision."""
    from prolo.db import current_revision, downgrade

    url = database_url(database)
    downgrade(url, revision)
    typer.echo(f"database at revision {current_revision(url)}")


@app.command()
def serve(
    database: DatabaseOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web pages."""
    import uvicorn

    from prolo.db import engine_for
    from prolo.interop.bulk_mode import ensure_schema_objects
    from prolo.settings import get_settings
    from prolo.web.app import create_app

    settings = get_settings()
    url = database_url(database)
    # A bulk import killed part-way leaves tables without some indexes or foreign keys.
    ensure_schema_objects(engine_for(url))
    log_config = {**uvicorn.config.LOGGING_CONFIG}
    # Who did what, one line per authenticated request (docs/serving.md).
    log_config["loggers"] = {
        **log_config["loggers"],
        "prolo.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
    }
    uvicorn.run(
        create_app(url),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        log_config=log_config,
    )


@app.command()
def demo(
    database: DatabaseOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    patients: Annotated[int, typer.Option(help="Synthetic patients to generate.")] = 2000,
    serve_app: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the app when the report is written.")
    ] = True,
) -> None:
    """A synthetic registry with known truth, its outcome report, and the app served on it.

    Without --database it rebuilds prolo-demo.db (SQLite) in the working directory.
    """
    import os

    from prolo.demo import prepare
    from prolo.settings import get_settings

    settings = get_settings()
    explicit = database or os.environ.get("PROLO_DATABASE_URL")  # else the throw-away demo file
    ready = prepare(explicit, patients=patients)
    for line in ready.summary:
        typer.echo(line)
    bind_host, bind_port = host or settings.host, port or settings.port
    base = f"http://{bind_host}:{bind_port}"
    typer.echo(f"report: {ready.report.resolve()}  (truth: {ready.truth.resolve()})")
    typer.echo(f"app:    {base}/app   API: {base}/docs   health: {base}/health")
    if ready.admin_password:
        typer.echo(f"log in as admin with the one-time password {ready.admin_password}")
    else:
        typer.echo("log in as admin with the password set when this database was created")
    if serve_app:
        serve(ready.url, bind_host, bind_port)


if __name__ == "__main__":
    app()

"""``prolo import`` and ``prolo export``: real data through the bulk import path (see
docs/import.md) and exchange with REDCap, FHIR, OMOP and analysis files (docs/exchange.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from prolo.cli_common import DatabaseOption, database_url, fail

MAX_SHOWN = 50


class FilesByDefault(TyperGroup):
    """``prolo import PATHS…`` (files in the registry's own layout) still works beside the
    subcommands: anything that is not a subcommand's name goes to ``prolo import files``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["files", *args]
        parsed: list[str] = super().parse_args(ctx, args)
        return parsed


import_app = typer.Typer(
    cls=FilesByDefault,
    help="Import data: files in the registry's layout (the default), a REDCap project, a FHIR "
    "Bundle.",
    no_args_is_help=True,
)
export_app = typer.Typer(
    help="Export the registry: tidy analysis files, a FHIR Bundle, OMOP CDM tables.",
    no_args_is_help=True,
)


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
    from functools import partial

    import numpy as np
    from rich.progress import Progress

    from prolo.errors import DomainError
    from prolo.interop import batches, files
    from prolo.interop.bulk import Importer, ImportReport
    from prolo.interop.pipeline import Pipeline
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
        skipped = 0  # batches a previous run already wrote (the run was stopped part-way)
        first_row: dict[str, int] = {}
        queued: set[str] = set()  # batches of this run already on their way to the database
        # --check writes nothing: it leaves the indexes alone (only repairs missing ones).
        # Otherwise the next batch is read and validated while this one is written.
        with (
            importer.loading(bulk=not check),
            Pipeline(importer, report.add) as pipeline,
            Progress(disable=not progress, transient=True) as bar,
        ):
            task = bar.add_task("importing", total=len(parts))
            for part in parts:
                bar.update(task, description=f"{part.table} ← {part.path.name}")
                for frame in files.read(part, batch_rows):
                    start = first_row.get(str(part.path), 1)
                    first_row[str(part.path)] = start + len(frame)
                    key = batches.fingerprint(part.table, frame)
                    with importer.engine.connect() as connection:
                        if key in queued or batches.already_imported(connection, key):
                            skipped += 1
                            continue
                    numbers = {part.table: np.arange(start, start + len(frame))}
                    sources = {part.table: str(part.path)}
                    if check:
                        report.add(
                            importer.import_batch(
                                {part.table: frame}, rows=numbers, sources=sources, dry_run=True
                            )
                        )
                        continue
                    if pipeline.submit(
                        {part.table: frame},
                        rows=numbers,
                        sources=sources,
                        on_write=partial(
                            batches.record, key=key, table=part.table, rows=len(frame)
                        ),
                    ):
                        queued.add(key)
                bar.advance(task)
    except (DomainError, ColumnError) as error:
        fail(str(error))
    if skipped:
        typer.echo(f"{skipped} batch(es) already imported by an earlier run: skipped")
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


import_app.command("files")(import_command)


def _identified_actor(url: str, token: str | None) -> Any:
    """The administrator behind an admin-scope API token, or a clean failure."""
    from prolo.db import engine_for, transaction
    from prolo.security.service import Unauthenticated, authenticate_token

    if not token:
        fail("--identified needs an administrator's API token (--admin-token or PROLO_ADMIN_TOKEN)")
    with transaction(engine_for(url)) as session:
        try:
            check = authenticate_token(session, token)
        except Unauthenticated as error:
            fail(f"--admin-token: {error}")
    if check.principal.role != "admin" or check.principal.scope != "admin":
        fail("--admin-token: identified output needs an administrator's token of scope admin")
    return check.principal


@export_app.command("analysis")
def export_analysis(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files into.")],
    database: DatabaseOption = None,
    format: Annotated[
        str, typer.Option("--format", help="csv or parquet (dictionary.csv is always CSV).")
    ] = "csv",
    identified: Annotated[
        bool,
        typer.Option(
            "--identified", help="Add database ids, record numbers and dates (admin token)."
        ),
    ] = False,
    admin_token: Annotated[
        str | None,
        typer.Option(
            "--admin-token",
            envvar="PROLO_ADMIN_TOKEN",
            help="An administrator's API token of scope admin (for --identified).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Tidy analysis files: assessments (long), courses (wide) and dictionary.csv; patients by
    study id, days from the first injection."""
    if format not in ("csv", "parquet"):
        fail(f"--format: {format!r} is not one of csv, parquet")
    from prolo.db import engine_for, transaction
    from prolo.interop import analysis
    from prolo.interop.deidentify import study_key
    from prolo.security import audit
    from prolo.settings import get_settings

    url = database_url(database)
    actor = _identified_actor(url, admin_token) if identified else None
    key, configured = study_key(get_settings().study_id_key)
    report = analysis.export(url, out, format, key=key, identified=identified)  # type: ignore[arg-type]
    if actor is not None:
        with transaction(engine_for(url)) as session:
            audit.write(
                session,
                actor=actor.username,
                action="export",
                entity="registry",
                entity_id=None,
                after={"kind": "analysis", "identified": True, "courses": report.courses},
                reason="identified analysis export",
            )
    for path in report.files:
        typer.echo(f"wrote {path}")
    typer.echo(f"{report.courses} courses, {report.assessment_rows} item answers")
    if not configured:
        typer.echo(
            "note: PROLO_STUDY_ID_KEY is not set: study ids were made with a random key and "
            "link to no other export",
            err=True,
        )


@import_app.command("redcap")
def import_redcap(
    dictionary: Annotated[
        Path, typer.Option("--dictionary", help="The project's data dictionary (CSV export).")
    ],
    records: Annotated[
        Path, typer.Option("--records", help="The records, CSV export with raw values.")
    ],
    mapping: Annotated[
        Path, typer.Option("--mapping", help="YAML mapping of fields, events and codes.")
    ],
    database: DatabaseOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything; write nothing.")
    ] = False,
) -> None:
    """Import a REDCap project; rejected rows are listed with record, event, field and reason.
    Importing it again adds what is new and updates what changed (audited)."""
    from prolo.errors import DomainError
    from prolo.interop import redcap
    from prolo.registry.setup import initialise

    url = database_url(database)
    try:
        announce_admin(initialise(url).admin_password)
        plan = redcap.load_mapping(mapping)
        fields = redcap.load_dictionary(dictionary)
        rows = redcap.read_records(records)
        report = redcap.import_project(url, plan, fields, rows, dry_run=dry_run)
    except (redcap.MappingError, DomainError) as error:
        fail(str(error))
    verb = "valid" if dry_run else "written"
    typer.echo(f"{report.records} records read")
    for table, count in report.created.items():
        typer.echo(f"{table}: {count} new rows {verb}")
    for table, count in report.updated.items():
        typer.echo(f"{table}: {count} rows updated{' (dry run: not written)' if dry_run else ''}")
    typer.echo(f"{report.unchanged} rows unchanged")
    for problem in report.problems[:MAX_SHOWN]:
        typer.echo(f"rejected: {problem}", err=True)
    if len(report.problems) > MAX_SHOWN:
        typer.echo(f"… and {len(report.problems) - MAX_SHOWN} more rejected rows", err=True)
    if report.rejected_records:
        fail(
            f"{len(report.rejected_records)} record(s) rejected and not imported: "
            f"{', '.join(report.rejected_records[:20])}"
        )


@export_app.command("fhir")
def export_fhir(
    out: Annotated[Path, typer.Option("--out", help="The Bundle's file (JSON).")],
    database: DatabaseOption = None,
) -> None:
    """The registry as one FHIR R4 Bundle (type collection), every resource validated with
    fhir.resources (R4B) and its codes checked against their value sets."""
    from prolo.interop import fhir

    try:
        report = fhir.export_bundle(database_url(database), out)
    except fhir.InvalidResource as error:
        fail(f"a resource does not validate: {error}")
    total = sum(report.resources.values())
    counts = ", ".join(f"{k} {v}" for k, v in report.resources.items())
    typer.echo(f"wrote {out}: {total} resources ({counts})")


@import_app.command("fhir")
def import_fhir(
    bundle: Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON) as prolo exports.")],
    database: DatabaseOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything; write nothing.")
    ] = False,
    batch_patients: Annotated[
        int, typer.Option(help="Patients per all-or-nothing batch (one transaction each).")
    ] = 5_000,
) -> None:
    """Read a FHIR Bundle back into the registry through the import rules (ids kept)."""
    from prolo.errors import DomainError
    from prolo.interop import fhir
    from prolo.registry.setup import initialise

    url = database_url(database)
    if not bundle.is_file():
        fail(f"{bundle}: no such file")
    try:
        announce_admin(initialise(url).admin_password)
        report = fhir.import_bundle(url, bundle, dry_run=dry_run, batch_patients=batch_patients)
    except (DomainError, ValueError) as error:
        fail(str(error))
    for table, count in report.written.items():
        typer.echo(f"{table}: {count} rows {'valid' if dry_run else 'written'}")
    for problem in report.problems[:MAX_SHOWN]:
        typer.echo(f"rejected: {problem}", err=True)
    if report.problems:
        fail(
            f"{len(report.problems)} problem(s); {report.batches_rejected} batch(es) rejected, "
            "nothing of them written"
        )


@export_app.command("deidentified")
def export_deidentified(
    out: Annotated[Path, typer.Option("--out", help="Folder for one file per clinical table.")],
    database: DatabaseOption = None,
    format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Every clinical table de-identified by HIPAA Safe Harbor: names, contacts and record
    numbers removed (stable study ids and record codes instead), dates as days from the first
    injection, ages over 89 as 90, free text dropped; deidentification.json says what was
    done to each column."""
    if format not in ("csv", "parquet"):
        fail(f"--format: {format!r} is not one of csv, parquet")
    from prolo.db import engine_for, transaction
    from prolo.interop import deidentified
    from prolo.security import audit
    from prolo.settings import get_settings

    with transaction(engine_for(database_url(database))) as session:
        key = deidentified.registry_study_key(session, get_settings().study_id_key)
        report = deidentified.export(session, out, format, key=key)  # type: ignore[arg-type]
        audit.write(
            session,
            actor="system",
            action="export",
            entity="registry",
            entity_id=None,
            after={"kind": "deidentified", "format": format, "rows": report.rows},
        )
    for table, count in report.rows.items():
        typer.echo(f"{table}.{format}: {count} rows")
    typer.echo(f"wrote {len(report.files)} files to {out}")


@export_app.command("omop")
def export_omop(
    out: Annotated[Path, typer.Option("--out", help="Folder for one CSV per CDM table.")],
    database: DatabaseOption = None,
) -> None:
    """OMOP CDM 5.4 tables as CSV (person, observation_period, visit_occurrence,
    condition_occurrence, procedure_occurrence, drug_exposure, measurement, observation,
    episode, episode_event, provider, care_site, source_to_concept_map)."""
    from prolo.interop import omop
    from prolo.interop.deidentify import study_key
    from prolo.settings import get_settings

    key, _ = study_key(get_settings().study_id_key)
    report = omop.export(database_url(database), out, key=key)
    for table, count in report.rows.items():
        typer.echo(f"{table}.csv: {count} rows")
    if report.persons_without_birth_year:
        typer.echo(
            f"note: {report.persons_without_birth_year} patient(s) without a birth date left out "
            "(the CDM requires year_of_birth)",
            err=True,
        )

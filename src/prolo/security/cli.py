"""`prolo user …`: manage users and API tokens from the server's command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from prolo.cli_common import DatabaseOption, database_url, fail

app = typer.Typer(help="Users, roles, sites and API tokens.", no_args_is_help=True)


@app.command("add")
def add(
    username: Annotated[str, typer.Option(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, clinician, coordinator or researcher.")],
    site: Annotated[list[str] | None, typer.Option(help="Site code; repeat for several.")] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input.")
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Add a user. Without --password-stdin a one-time password is printed once."""
    from prolo.db import engine_for, transaction
    from prolo.errors import DomainError
    from prolo.security import service
    from prolo.security.passwords import one_time_password
    from prolo.security.principal import system

    password = sys.stdin.readline().rstrip("\n") if password_stdin else one_time_password()
    try:
        with transaction(engine_for(database_url(database))) as session:
            service.add_user(
                session,
                username=username,
                password=password,
                role=role,
                site_codes=site or [],
                actor=system(),
                must_change_password=not password_stdin,
            )
    except DomainError as error:
        fail(str(error))
    typer.echo(f"added {username} ({role}; sites: {', '.join(site or []) or 'none'})")
    if not password_stdin:
        typer.echo(f"one-time password (shown once; change it at first login): {password}")


@app.command("list")
def list_(database: DatabaseOption = None) -> None:
    """List users with their role, sites and state."""
    from prolo.db import engine_for, transaction
    from prolo.security import service
    from prolo.security.principal import system

    with transaction(engine_for(database_url(database))) as session:
        for user, sites in service.list_users(session, actor=system()):
            state = "active" if user.active else "disabled"
            typer.echo(f"{user.username}\t{user.role}\t{','.join(sites) or '-'}\t{state}")


@app.command("disable")
def disable(
    username: Annotated[str, typer.Option(help="Login name.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")],
    database: DatabaseOption = None,
) -> None:
    """Disable a user; their tokens are revoked and their sessions ended."""
    from prolo.db import engine_for, transaction
    from prolo.errors import DomainError
    from prolo.security import service
    from prolo.security.principal import system

    try:
        with transaction(engine_for(database_url(database))) as session:
            service.disable_user(session, username=username, reason=reason, actor=system())
    except DomainError as error:
        fail(str(error))
    typer.echo(f"disabled {username}")


@app.command("token")
def token(
    username: Annotated[str, typer.Option(help="Whose token.")],
    scope: Annotated[str, typer.Option(help="read, write or admin.")] = "read",
    days: Annotated[int, typer.Option(help="Days until it expires (1–366).")] = 90,
    name: Annotated[str | None, typer.Option(help="A label for the token.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    from prolo.db import engine_for, transaction
    from prolo.errors import DomainError
    from prolo.security import service
    from prolo.security.principal import system

    try:
        with transaction(engine_for(database_url(database))) as session:
            issued = service.issue_token(
                session, username=username, scope=scope, days=days, name=name, actor=system()
            )
            token_id = issued.token.id
    except DomainError as error:
        fail(str(error))
    typer.echo(issued.secret)
    typer.echo(f"token {token_id} for {username}, scope {scope}, {days} days", err=True)


@app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Option("--token-id", help="The token's number.")],
    database: DatabaseOption = None,
) -> None:
    """Revoke an API token."""
    from prolo.db import engine_for, transaction
    from prolo.errors import DomainError
    from prolo.security import service
    from prolo.security.principal import system

    try:
        with transaction(engine_for(database_url(database))) as session:
            service.revoke_token(session, token_id=token_id, actor=system())
    except DomainError as error:
        fail(str(error))
    typer.echo(f"revoked token {token_id}")


@app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    database: DatabaseOption = None,
) -> None:
    """Give a user a one-time password (printed once); they must change it at next login."""
    from prolo.db import engine_for, transaction
    from prolo.errors import DomainError
    from prolo.security import service
    from prolo.security.principal import system

    try:
        with transaction(engine_for(database_url(database))) as session:
            password = service.reset_password(session, username=username, actor=system())
    except DomainError as error:
        fail(str(error))
    typer.echo(f"one-time password for {username} (shown once; change it at login): {password}")

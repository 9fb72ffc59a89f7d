"""Typed dependencies shared by every route: the database session and who is acting.

The concurrency model (docs/serving.md): everything that touches the database is a plain
``def`` and runs in the worker threads, never on the event loop. The only ``async``
dependencies here read the request body (which Starlette parses once and caches) and touch
no database. Reads run in deferred transactions; requests that change things (any method but
GET, HEAD, OPTIONS) take SQLite's write lock when their transaction begins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from prolo.db import begin_write, session_factory, writer
from prolo.security.login import ActiveSession, SessionEnded, csrf_matches, resume_session
from prolo.security.policy import Forbidden
from prolo.security.principal import Principal
from prolo.security.service import Unauthenticated, authenticate_token, record_token_use
from prolo.settings import get_settings

T = TypeVar("T")
SESSION_COOKIE = "prolo_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
access_log = logging.getLogger("prolo.access")


def get_db(request: Request) -> Iterator[Session]:
    """One session per request; the route commits, anything unfinished is rolled back.

    A request that may write binds to the writer engine (same pool), so each of its
    transactions begins with SQLite's write lock and concurrent writers queue instead of
    failing with "database is locked".
    """
    state = request.app.state
    engine = state.engine
    if request.method in SAFE_METHODS:
        factory = getattr(state, "session_factory", None) or session_factory(engine)
    else:
        factory = getattr(state, "writer_factory", None) or session_factory(writer(engine))
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]


async def get_form(request: Request) -> FormData:
    """The posted form (parsed once; later reads get Starlette's cached copy). No database."""
    return await request.form()


FormDep = Annotated[FormData, Depends(get_form)]


async def csrf_form_field(request: Request) -> str | None:
    """The ``csrf_token`` field of a cookie-authenticated form post; no database work here."""
    if (
        request.method in SAFE_METHODS
        or request.headers.get("authorization")
        or request.headers.get(CSRF_HEADER) is not None
        or "form" not in request.headers.get("content-type", "")
    ):
        return None
    field = (await request.form()).get("csrf_token")
    return field if isinstance(field, str) else None


CsrfField = Annotated[str | None, Depends(csrf_form_field)]


def get_principal(request: Request, db: SessionDep, csrf_field: CsrfField) -> Principal:
    """Who is acting: a bearer token, or a browser session cookie (then CSRF is checked)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        return _by_token(request, db, secret.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthenticated("send 'Authorization: Bearer <token>' or log in")
    active = _by_cookie(request, db, cookie)
    request.state.csrf_token = active.csrf_token
    request.state.principal = active.principal  # for the error page's navigation bar
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, csrf_field)
        if not csrf_matches(active.csrf_token, given):
            raise Forbidden("the CSRF token is missing or wrong; reload the page")
    access_log.info("%s session %s %s", active.principal, request.method, request.url.path)
    return active.principal


def _by_token(request: Request, db: Session, secret: str) -> Principal:
    check = authenticate_token(db, secret)  # reads only
    if check.use_due:
        _in_write_transaction(
            request,
            db,
            lambda: record_token_use(db, check, method=request.method, path=request.url.path),
        )
    access_log.info(
        "%s token %d %s %s", check.principal, check.token_id, request.method, request.url.path
    )
    return check.principal


def _by_cookie(request: Request, db: Session, cookie: str) -> ActiveSession:
    idle = get_settings().session_idle_minutes
    try:
        active = resume_session(db, cookie, idle_minutes=idle, record=False)
        if not active.touch_due:
            return active
    except SessionEnded as ended:
        if not ended.record_due:
            raise
    # The session's end or its once-a-minute activity must be written: redo the check as a
    # writer, under the write lock, and keep what it wrote even when it refuses.
    return _in_write_transaction(
        request, db, lambda: resume_session(db, cookie, idle_minutes=idle, record=True)
    )


def _in_write_transaction(request: Request, db: Session, action: Callable[[], T]) -> T:
    """Run a bookkeeping write and commit it, also when ``action`` refuses the caller.

    In a reading request the read transaction ends first and the write gets a transaction of
    its own that starts as a writer (a deferred one could not wait for the write lock).
    """
    if request.method in SAFE_METHODS:
        db.commit()
        begin_write(db)
    try:
        result = action()
    except Unauthenticated:
        db.commit()
        raise
    db.commit()
    return result


def get_optional_principal(
    request: Request, db: SessionDep, csrf_field: CsrfField
) -> Principal | None:
    """The signed-in user of a web page, or None (the page then sends them to log in)."""
    try:
        return get_principal(request, db, csrf_field)
    except Unauthenticated:
        return None


CurrentUser = Annotated[Principal, Depends(get_principal)]
OptionalUser = Annotated[Principal | None, Depends(get_optional_principal)]
ActorDep = CurrentUser

"""Typed dependencies shared by every route: the database session and who is acting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from prolo.db import session_factory
from prolo.security.login import csrf_matches, resume_session
from prolo.security.policy import Forbidden
from prolo.security.principal import Principal
from prolo.security.service import Unauthenticated, authenticate_token
from prolo.settings import get_settings

T = TypeVar("T")
SESSION_COOKIE = "prolo_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """One session per request; the route commits, anything unfinished is rolled back."""
    factory = getattr(request.app.state, "session_factory", None)
    if factory is None:
        factory = session_factory(request.app.state.engine)
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_db)]


async def get_principal(request: Request, db: SessionDep) -> Principal:
    """Who is acting: a bearer token, or a browser session cookie (then CSRF is checked)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        principal = _committed(db, lambda: authenticate_token(db, secret.strip()))
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthenticated("send 'Authorization: Bearer <token>' or log in")
    idle = get_settings().session_idle_minutes
    active = _committed(db, lambda: resume_session(db, cookie, idle_minutes=idle))
    request.state.csrf_token = active.csrf_token
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER)
        if given is None and "form" in request.headers.get("content-type", ""):
            field = (await request.form()).get("csrf_token")
            given = field if isinstance(field, str) else None
        if not csrf_matches(active.csrf_token, given):
            raise Forbidden("the CSRF token is missing or wrong; reload the page")
    return active.principal


def _committed(db: Session, action: Callable[[], T]) -> T:
    """Run an authentication step and keep what it recorded (use, time-out) even if it fails."""
    try:
        result = action()
    except Unauthenticated:
        db.commit()
        raise
    db.commit()
    return result


CurrentUser = Annotated[Principal, Depends(get_principal)]
ActorDep = CurrentUser

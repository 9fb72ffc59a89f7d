"""Typed dependencies shared by every route: the database session and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from prolo.db import session_factory
from prolo.settings import get_settings


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


def get_actor() -> str:
    """Who is acting. Provisional: the settings' user until authentication replaces this."""
    return get_settings().acting_user


SessionDep = Annotated[Session, Depends(get_db)]
ActorDep = Annotated[str, Depends(get_actor)]

"""Bring a database to life: migrations, the starting vocabularies and the first administrator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from prolo.db import engine_for, transaction, upgrade
from prolo.registry import vocabulary

FIRST_ADMIN = "admin"


@dataclass(frozen=True)
class InitReport:
    vocabulary_terms_added: int
    # The first administrator's one-time password, when one was generated now (shown once).
    admin_password: str | None


def initialise(url: str, *, admin_password: str | None = None) -> InitReport:
    """Create (if needed) and migrate the database at ``url``, load vocabularies, and create
    the first administrator when there is no user yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    from prolo.interop.bulk_mode import ensure_schema_objects

    ensure_schema_objects(engine_for(url))  # a bulk load killed part-way left some out
    with transaction(engine_for(url)) as session:
        added = vocabulary.load_bundled(session)
        generated = _first_admin(session, admin_password)
    return InitReport(added, generated)


def _first_admin(session: Session, password: str | None) -> str | None:
    from prolo.security import service
    from prolo.security.models import User
    from prolo.security.passwords import one_time_password
    from prolo.security.principal import system
    from prolo.settings import get_settings

    if session.scalars(select(User.id)).first() is not None:
        return None
    given = password or get_settings().admin_password
    chosen = given or one_time_password()
    service.add_user(
        session,
        username=FIRST_ADMIN,
        password=chosen,
        role="admin",
        site_codes=[],
        actor=system("prolo init"),
        must_change_password=given is None,
    )
    return None if given else chosen

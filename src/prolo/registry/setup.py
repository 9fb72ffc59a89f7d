"""Bring a database to life: migrations and the starting vocabularies."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from prolo.db import engine_for, transaction, upgrade
from prolo.registry import vocabulary


def initialise(url: str) -> str:
    """Create (if needed) and migrate the database at ``url``, then load vocabularies."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    with transaction(engine_for(url)) as session:
        added = vocabulary.load_bundled(session)
    return f"{added} vocabulary terms added"

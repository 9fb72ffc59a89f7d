"""Controlled vocabularies as data: bundled in ``vocabularies.json``, extendable in the database."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.errors import Conflict, NotFound
from prolo.registry.models import VocabularyTerm
from prolo.security import audit


def bundled() -> dict[str, list[dict[str, Any]]]:
    """The starting vocabularies shipped with the package (DESIGN §6)."""
    text = resources.files("prolo.registry").joinpath("vocabularies.json").read_text("utf-8")
    data: dict[str, list[dict[str, Any]]] = json.loads(text)
    return data


def load_bundled(session: Session) -> int:
    """Insert bundled terms that are missing; never overwrite what an installer changed."""
    existing = {(t.vocabulary, t.code) for t in session.scalars(select(VocabularyTerm))}
    added = 0
    for vocabulary, terms in bundled().items():
        for term in terms:
            if (vocabulary, term["code"]) in existing:
                continue
            session.add(
                VocabularyTerm(
                    vocabulary=vocabulary,
                    code=term["code"],
                    label=term["label"],
                    attributes=term.get("attributes", {}),
                    active=True,
                )
            )
            added += 1
    session.flush()
    return added


def terms(session: Session, vocabulary: str, *, active_only: bool = True) -> list[VocabularyTerm]:
    query = select(VocabularyTerm).where(VocabularyTerm.vocabulary == vocabulary)
    if active_only:
        query = query.where(VocabularyTerm.active.is_(True))
    return list(session.scalars(query.order_by(VocabularyTerm.id)))


def term(session: Session, vocabulary: str, code: str) -> VocabularyTerm | None:
    return session.scalars(
        select(VocabularyTerm).where(
            VocabularyTerm.vocabulary == vocabulary,
            VocabularyTerm.code == code,
            VocabularyTerm.active.is_(True),
        )
    ).first()


def names(session: Session) -> list[str]:
    return list(session.scalars(select(VocabularyTerm.vocabulary).distinct()))


def add_term(
    session: Session,
    *,
    vocabulary: str,
    code: str,
    label: str,
    attributes: dict[str, Any],
    actor: str,
) -> VocabularyTerm:
    """Extend a vocabulary (an administrator's job); the addition is audited."""
    if session.scalars(
        select(VocabularyTerm).where(
            VocabularyTerm.vocabulary == vocabulary, VocabularyTerm.code == code
        )
    ).first():
        raise Conflict(f"{vocabulary} already has the code {code!r}")
    new = VocabularyTerm(
        vocabulary=vocabulary, code=code, label=label, attributes=attributes, active=True
    )
    session.add(new)
    session.flush()
    audit.write(
        session,
        actor=actor,
        action="create",
        entity="vocabulary_term",
        entity_id=new.id,
        after=audit.snapshot(new),
    )
    return new


def get_or_raise(session: Session, vocabulary: str) -> list[VocabularyTerm]:
    found = terms(session, vocabulary)
    if not found:
        raise NotFound("vocabulary", vocabulary)
    return found

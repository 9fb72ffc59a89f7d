"""What a patient may see about their practitioner: recorded training and experience (never
outcome figures), with the vocabularies' labels and the organizations to contact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.registry import models as m
from prolo.registry import vocabulary


def _label(session: Session, name: str, code: str) -> str:
    term = vocabulary.term(session, name, code)
    return term.label if term else code


def practitioner_info(session: Session, practitioner_id: int) -> dict[str, Any]:
    practitioner = session.get(m.Practitioner, practitioner_id)
    assert practitioner is not None
    training = [
        {
            "course": t.course,
            "organization": t.organization_other
            if t.organization == "other" and t.organization_other
            else _label(session, "training_organization", t.organization),
            "completed_on": t.completed_on,
            "hours": t.hours,
            "verified": t.verified,
        }
        for t in session.scalars(
            select(m.TrainingRecord)
            .where(
                m.TrainingRecord.practitioner_id == practitioner_id,
                m.TrainingRecord.retired_at.is_(None),
            )
            .order_by(m.TrainingRecord.completed_on)
        )
    ]
    organizations = [
        t.label for t in vocabulary.terms(session, "training_organization") if t.code != "other"
    ]
    organizations += [t.label for t in vocabulary.terms(session, "contact_organization")]
    return {
        "practitioner": practitioner,
        "degree": _label(session, "degree", practitioner.degree),
        "specialty": _label(session, "specialty", practitioner.specialty),
        "training": training,
        "organizations": organizations,
    }

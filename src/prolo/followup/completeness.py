"""Follow-up completeness: answered ÷ due, per site, practitioner and time point."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from prolo.followup.models import DueQuestionnaire
from prolo.followup.service import schedule
from prolo.registry import models as m
from prolo.security.policy import READ, authorize, visible
from prolo.security.principal import Principal

GROUPINGS = ("site", "practitioner", "time_point")


@dataclass(frozen=True)
class Completeness:
    group: str
    key: str
    answered: int
    due: int

    @property
    def proportion(self) -> float | None:
        return self.answered / self.due if self.due else None

    def interval(self) -> tuple[float | None, float | None]:
        """Wilson 95% interval of the proportion answered."""
        if not self.due:
            return None, None
        from statsmodels.stats.proportion import proportion_confint

        low, high = proportion_confint(self.answered, self.due, alpha=0.05, method="wilson")
        return float(low), float(high)

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval()
        return {
            "group": self.group,
            "key": self.key,
            "answered": self.answered,
            "due": self.due,
            "completeness": self.proportion,
            "ci_lb": low,
            "ci_ub": high,
            "definition": "questionnaires answered ÷ questionnaires whose due date has passed",
        }


def completeness(
    session: Session, *, actor: Principal, today: dt.date, by: str = "time_point"
) -> list[Completeness]:
    """Only questionnaires already due count in the denominator (their due date has passed).

    Counted by the database (one grouped query), so that a worklist page on a large registry
    does not load every due questionnaire.
    """
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}")
    authorize(actor, "assessment", READ)
    key = {
        "site": m.Patient.site_id,
        "practitioner": m.TreatmentCourse.practitioner_id,
        "time_point": DueQuestionnaire.time_point,
    }[by]
    answered = func.sum(case((DueQuestionnaire.status == "answered", 1), else_=0))
    rows = session.execute(
        select(key, answered, func.count())
        .select_from(DueQuestionnaire)
        .join(m.TreatmentCourse, m.TreatmentCourse.id == DueQuestionnaire.course_id)
        .join(m.Patient, m.Patient.id == m.TreatmentCourse.patient_id)
        .where(
            visible(actor, m.Patient),
            m.TreatmentCourse.retired_at.is_(None),
            DueQuestionnaire.due_on <= today,
        )
        .group_by(key)
    )
    counts = {str(k): (int(a or 0), int(n)) for k, a, n in rows}
    order = schedule(session).names()
    keys = sorted(
        counts, key=lambda k: (order.index(k) if by == "time_point" and k in order else 0, k)
    )
    return [Completeness(by, k, *counts[k]) for k in keys]

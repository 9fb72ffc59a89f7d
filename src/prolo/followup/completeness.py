"""Follow-up completeness: answered ÷ due, per site, practitioner and time point."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from prolo.followup.service import due_list, schedule
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
    """Only questionnaires already due count in the denominator (their due date has passed)."""
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in due_list(session, actor=actor, today=today):
        if row.due.due_on > today:
            continue
        key = {
            "site": str(row.patient.site_id),
            "practitioner": str(row.course.practitioner_id),
            "time_point": row.due.time_point,
        }[by]
        counts[key][1] += 1
        counts[key][0] += row.state == "answered"
    order = schedule(session).names()
    keys = sorted(
        counts, key=lambda k: (order.index(k) if by == "time_point" and k in order else 0, k)
    )
    return [Completeness(by, key, *counts[key]) for key in keys]

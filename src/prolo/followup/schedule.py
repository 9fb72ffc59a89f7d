"""Time points of follow-up (DESIGN §5): a target day and a window, relative to the index date
(the course's first injection). Pure; configurable per registry as data."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TimePoint:
    name: str
    target: int
    start: int
    end: int
    latest: bool = False  # baseline: take the latest assessment in the window, not the nearest

    def holds(self, day: int) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Schedule:
    time_points: tuple[TimePoint, ...]
    # Questionnaires due at each time point; baseline has no global impression of change.
    instruments: tuple[str, ...] = ("NRS", "NRS_LEG", "DISABILITY", "PGIC", "WORK", "ANALGESIC")

    def __post_init__(self) -> None:
        ordered = sorted(self.time_points, key=lambda t: t.start)
        for before, after in itertools.pairwise(ordered):
            if after.start <= before.end:
                raise ValueError(f"windows {before.name} and {after.name} overlap")
        for point in self.time_points:
            if not point.start <= point.target <= point.end:
                raise ValueError(f"{point.name}: target day {point.target} outside its window")

    def names(self) -> list[str]:
        return [t.name for t in self.time_points]

    def assign(self, day: int) -> str | None:
        """The time point whose window holds ``day`` (days from the index date), if any."""
        for point in self.time_points:
            if point.holds(day):
                return point.name
        return None

    def get(self, name: str) -> TimePoint:
        for point in self.time_points:
            if point.name == name:
                return point
        raise KeyError(f"no time point {name!r}; the schedule has {', '.join(self.names())}")

    def due_dates(self, index_date: dt.date) -> list[tuple[TimePoint, dt.date, dt.date, dt.date]]:
        """For each time point: (time point, due date, window opens, window closes)."""
        return [
            (
                point,
                index_date + dt.timedelta(days=point.target),
                index_date + dt.timedelta(days=point.start),
                index_date + dt.timedelta(days=point.end),
            )
            for point in self.time_points
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "time_points": [p.__dict__ for p in self.time_points],
            "instruments": list(self.instruments),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        points = tuple(TimePoint(**p) for p in data["time_points"])
        instruments = tuple(
            data.get("instruments", cls.__dataclass_fields__["instruments"].default)
        )
        return cls(points, instruments)


DEFAULT = Schedule(
    (
        TimePoint("baseline", 0, -30, 0, latest=True),
        TimePoint("6w", 42, 28, 56),
        TimePoint("3m", 91, 63, 120),
        TimePoint("6m", 182, 150, 240),
        TimePoint("12m", 365, 300, 450),
        TimePoint("24m", 730, 640, 820),
    )
)


def pick(schedule: Schedule, days: Sequence[int]) -> dict[str, int]:
    """Index (into ``days``) of the assessment that stands for each time point: the one nearest
    the target (tie: the earlier); for a ``latest`` window, the latest one."""
    chosen: dict[str, int] = {}
    for point in schedule.time_points:
        inside = [(i, d) for i, d in enumerate(days) if point.holds(d)]
        if not inside:
            continue
        if point.latest:
            best = max(inside, key=lambda pair: pair[1])
        else:
            best = min(inside, key=lambda pair: (abs(pair[1] - point.target), pair[1]))
        chosen[point.name] = best[0]
    return chosen

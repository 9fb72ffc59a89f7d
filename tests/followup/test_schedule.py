"""Time-point windows of DESIGN §5 at their boundaries, and the choice within a window."""

from __future__ import annotations

import datetime as dt

import pytest

from prolo.followup.schedule import DEFAULT, Schedule, TimePoint, pick


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (-31, None),
        (-30, "baseline"),
        (0, "baseline"),
        (1, None),
        (27, None),
        (28, "6w"),
        (56, "6w"),
        (57, None),
        (62, None),
        (63, "3m"),
        (120, "3m"),
        (121, None),
        (149, None),
        (150, "6m"),
        (240, "6m"),
        (241, None),
        (299, None),
        (300, "12m"),
        (450, "12m"),
        (451, None),
        (639, None),
        (640, "24m"),
        (820, "24m"),
        (821, None),
    ],
)
def test_window_boundaries(day: int, expected: str | None) -> None:
    assert DEFAULT.assign(day) == expected


def test_nearest_to_target_wins_and_ties_go_to_the_earlier() -> None:
    assert pick(DEFAULT, [160, 185, 230]) == {"6m": 1}
    assert pick(DEFAULT, [194, 170]) == {"6m": 1}  # both 12 days from 182: the earlier (170)


def test_baseline_takes_the_latest_in_its_window() -> None:
    assert pick(DEFAULT, [-25, -3, -10, 5]) == {"baseline": 1}


def test_due_dates_follow_the_index_date() -> None:
    index = dt.date(2026, 1, 10)
    six_months = next(d for d in DEFAULT.due_dates(index) if d[0].name == "6m")
    assert six_months[1:] == (dt.date(2026, 7, 11), dt.date(2026, 6, 9), dt.date(2026, 9, 7))


def test_schedules_are_data_and_checked() -> None:
    custom = Schedule.from_dict(
        {
            "time_points": [
                {"name": "baseline", "target": 0, "start": -14, "end": 0, "latest": True},
                {"name": "4m", "target": 120, "start": 100, "end": 140},
            ]
        }
    )
    assert custom.assign(130) == "4m" and Schedule.from_dict(custom.as_dict()) == custom
    with pytest.raises(ValueError, match="overlap"):
        Schedule((TimePoint("a", 10, 0, 20), TimePoint("b", 25, 15, 30)))
    with pytest.raises(ValueError, match="outside its window"):
        Schedule((TimePoint("a", 50, 0, 20),))

"""Hypothesis properties: scoring by the instruments' published rules (../shared/reference/
instruments.md, restated here independently of the code), and time-point assignment by the
windows' definition (DESIGN §5)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prolo.followup.schedule import DEFAULT, Schedule, TimePoint, pick
from prolo.instruments.scoring import AnswerError, score

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None)

section = st.one_of(st.integers(0, 5), st.none())


def _close(value: float | None, exact: Fraction) -> bool:
    return value is not None and abs(Fraction(value) - exact) < Fraction(1, 10**9)


@SETTINGS
@given(st.lists(section, min_size=10, max_size=10))
def test_odi_is_sum_over_five_per_answered_section(answers: list[int | None]) -> None:
    """Fairbank & Pynsent 2000: percent = sum ÷ (5 × sections answered) × 100; a missing
    section reduces the denominator; more than 2 missing → not scorable."""
    answered = [a for a in answers if a is not None]
    result = score("ODI", answers)
    if len(answers) - len(answered) > 2:
        assert result.score is None and not result.scorable
        return
    assert result.scorable
    assert _close(result.score, Fraction(sum(answered) * 100, 5 * len(answered)))
    assert result.items_missing == len(answers) - len(answered)


@SETTINGS
@given(st.lists(section, min_size=10, max_size=10), st.integers(0, 9), st.integers(0, 5))
def test_odi_two_boxes_ticked_count_the_higher(
    answers: list[int | None], where: int, other: int
) -> None:
    first = answers[where] if answers[where] is not None else 0
    ticked: list[object] = list(answers)
    ticked[where] = [first, other]
    plain = list(answers)
    plain[where] = max(first, other)
    assert score("ODI", ticked).score == score("ODI", plain).score  # type: ignore[arg-type]


@SETTINGS
@given(st.lists(section, min_size=10, max_size=10))
def test_ndi_imputes_the_mean_and_doubles_for_percent(answers: list[int | None]) -> None:
    """Vernon: a missing item takes the mean of the answered ones; raw 0–50, percent = raw × 2,
    which equals sum ÷ (5 × answered) × 100; more than 2 missing → not scorable."""
    answered = [a for a in answers if a is not None]
    result = score("NDI", answers)
    if len(answers) - len(answered) > 2:
        assert result.score is None and not result.scorable
        return
    raw = Fraction(sum(answered) * 10, len(answered))
    assert _close(result.raw, raw)
    assert _close(result.score, raw * 2)
    assert _close(result.score, Fraction(sum(answered) * 100, 5 * len(answered)))


@SETTINGS
@given(st.lists(st.sampled_from([True, False, "missing", "refused"]), min_size=24, max_size=24))
def test_rmdq_counts_ticked_and_explicit_missing_as_no(answers: list[bool | str]) -> None:
    """Roland & Morris 1983: count of ticked statements; explicit missing/refused count as "no"
    (flagged); more than 2 of them → not scorable."""
    explicit = sum(isinstance(a, str) for a in answers)
    result = score("RMDQ", answers)
    if explicit > 2:
        assert result.score is None
        return
    assert result.score == sum(a is True for a in answers)
    assert ("missing_items_counted_as_no" in result.flags) == (explicit > 0)


@SETTINGS
@given(st.one_of(st.integers(0, 10), st.none()))
def test_nrs_is_the_number(answer: int | None) -> None:
    result = score("NRS", [answer])
    assert result.score == (None if answer is None else float(answer))


@SETTINGS
@given(
    st.sampled_from(["ODI", "NDI"]),
    st.integers(0, 9),
    st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=6),
        st.floats(0.1, 4.9).filter(lambda f: not f.is_integer()),
    ),
)
def test_out_of_range_answers_are_refused_naming_the_item(
    code: str, where: int, bad: float
) -> None:
    answers: list[object] = [0] * 10
    answers[where] = bad
    with pytest.raises(AnswerError) as refused:
        score(code, answers)  # type: ignore[arg-type]
    assert refused.value.position == where + 1


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """Non-overlapping windows, each with its target inside."""
    bounds = sorted(draw(st.sets(st.integers(-60, 900), min_size=2, max_size=12)))
    points = []
    for number, (start, end) in enumerate(zip(bounds[::2], bounds[1::2], strict=False)):
        target = draw(st.integers(start, end))
        points.append(TimePoint(f"t{number}", target, start, end, latest=draw(st.booleans())))
    return Schedule(tuple(points))


@SETTINGS
@given(st.one_of(st.just(DEFAULT), schedules()), st.integers(-100, 1000))
def test_a_day_belongs_to_the_one_window_that_holds_it(schedule: Schedule, day: int) -> None:
    holding = [p.name for p in schedule.time_points if p.start <= day <= p.end]
    assert len(holding) <= 1
    assert schedule.assign(day) == (holding[0] if holding else None)


@SETTINGS
@given(st.one_of(st.just(DEFAULT), schedules()), st.lists(st.integers(-100, 1000), max_size=15))
def test_each_time_point_takes_the_assessment_nearest_its_target(
    schedule: Schedule, days: list[int]
) -> None:
    """Nearest the target day, the earlier on a tie; the latest in a ``latest`` window."""
    chosen = pick(schedule, days)
    for point in schedule.time_points:
        inside = [d for d in days if point.start <= d <= point.end]
        if not inside:
            assert point.name not in chosen
            continue
        day = days[chosen[point.name]]
        if point.latest:
            assert day == max(inside)
        else:
            distance = min(abs(d - point.target) for d in inside)
            assert day == min(d for d in inside if abs(d - point.target) == distance)

"""Scoring against the published rules: every worked example of the shared reference, exactly,
and the missing-item rules of each instrument."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from prolo.instruments.change import absolute_change, relative_change
from prolo.instruments.definitions import catalogue
from prolo.instruments.scoring import AnswerError, score
from tests.instruments.worked_examples import answers, examples, number

SCORED = [e for e in examples() if e.instrument in {"ODI", "RMDQ", "NDI"}]


def test_the_reference_has_the_examples() -> None:
    assert [e.instrument for e in SCORED] == ["ODI", "ODI", "ODI", "RMDQ", "NDI", "NDI"]


@pytest.mark.parametrize("example", SCORED, ids=lambda e: f"{e.instrument}:{e.answers}")
def test_worked_examples_score_exactly(example: object) -> None:
    instrument, given, expected = example.instrument, example.answers, example.expected  # type: ignore[attr-defined]
    result = score(instrument, answers(given))
    if expected.startswith("not scorable"):
        assert result.scorable is False and result.score is None
        return
    assert result.scorable
    fraction = re.search(r"\((\d+) ÷ (\d+) × 100\)", expected)
    if fraction:
        assert result.score == pytest.approx(int(fraction[1]) / int(fraction[2]) * 100, rel=1e-12)
    raw = re.search(r"raw ([\d.…]+)", expected)
    if raw:
        assert result.raw == pytest.approx(number(raw[1]), rel=1e-12)
    percent = re.search(r"([\d.…]+) percent", expected)
    if percent:
        assert result.score == pytest.approx(number(percent[1]), rel=1e-12)
    if not (raw or percent or fraction):
        assert result.score == number(expected)


@pytest.mark.parametrize(
    ("given", "expected_change"),
    [("baseline 8 → 4", -0.5), ("baseline 8 → 5", -0.375), ("baseline 0 → 0", None)],
)
def test_nrs_change_examples(given: str, expected_change: float | None) -> None:
    assert any(e.answers == given for e in examples() if e.instrument == "NRS change")
    before, after = (int(v) for v in re.findall(r"\d+", given))
    assert relative_change(before, after) == expected_change


def test_odi_change_example() -> None:
    example = next(e for e in examples() if e.instrument == "ODI change")
    before, after = (int(v) for v in re.findall(r"\d+", example.answers))
    assert absolute_change(before, after) == -10 and relative_change(before, after) == -0.25


def test_odi_two_boxes_ticked_take_the_higher() -> None:
    assert score("ODI", [[1, 3], 2, 1, 0, 3, 2, 1, 0, 2, 1]).raw == 15


@pytest.mark.parametrize("code", ["refused", "not_asked", "missing", None])
def test_odi_missing_sections_shrink_the_denominator(code: object) -> None:
    result = score("ODI", [2, 2, 2, 2, 2, 2, 2, 2, code, code])
    assert result.score == pytest.approx(16 / 40 * 100) and result.items_missing == 2


def test_rmdq_explicit_missing_counts_as_no_and_is_flagged() -> None:
    two = score("RMDQ", [True] * 5 + ["missing", "refused"] + [False] * 17)
    assert two.score == 5 and "missing_items_counted_as_no" in two.flags
    three = score("RMDQ", [True] * 5 + ["missing", "refused", None] + [False] * 16)
    assert three.scorable is False


def test_ndi_three_missing_is_not_scorable() -> None:
    assert score("NDI", [2, 1, 1, None, 2, 1, 2, None, None, 1]).scorable is False


@pytest.mark.parametrize("code", ["NRS", "NRS_LEG", "PGIC"])
def test_single_item_missing_gives_no_score(code: str) -> None:
    result = score(code, ["refused"])
    assert (result.score, result.scorable) == (None, False)


@pytest.mark.parametrize(
    ("code", "given", "message"),
    [
        ("NRS", [11], "NRS item 1 (pain_axial): 11 is outside 0–10"),
        ("NRS", [2.5], "NRS item 1 (pain_axial): 2.5 is not a whole number"),
        ("ODI", [1, 2, 1, 0, 3, 2, 1, 0, 2, 6], "ODI item 10 (travelling): 6 is outside 0–5"),
        ("ODI", [1, 2, 3], "ODI item 0 (answers): expected 10 answers, got 3"),
        ("RMDQ", [1] + [False] * 23, "RMDQ item 1 (s01): 1 is not true or false"),
        ("PGIC", [8], "PGIC item 1 (change): 8 is not one of 1, 2, 3, 4, 5, 6, 7"),
        (
            "PGIC",
            ["skipped"],
            "PGIC item 1 (change): 'skipped' is not one of 1, 2, 3, 4, 5, 6, 7 "
            "nor one of not_asked, missing, refused",
        ),
        ("NDI", [True] * 10, "NDI item 1 (pain_intensity): True is not a whole number 0–5"),
    ],
)
def test_bad_answers_name_the_item(code: str, given: list[object], message: str) -> None:
    with pytest.raises(AnswerError) as error:
        score(code, given)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_definitions_carry_source_direction_and_important_change() -> None:
    for instrument in catalogue().values():
        assert instrument.source and instrument.licence and instrument.better
    assert catalogue()["ODI"].version == "2.1a"
    assert len(catalogue()["RMDQ"].items) == 24


def run_score(code: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prolo.cli", "score", code],
        input=stdin,
        capture_output=True,
        text=True,
    )


def test_score_command_prints_one_json_object() -> None:
    result = run_score("NDI", "[2,1,1,0,2,1,2,null,2,1]")
    assert result.returncode == 0
    printed = json.loads(result.stdout)
    assert printed["scorable"] is True
    assert printed["raw"] == pytest.approx(40 / 3) and printed["score"] == pytest.approx(80 / 3)
    rmdq = json.loads(run_score("rmdq", json.dumps([True] * 9 + [False] * 15)).stdout)
    assert rmdq["score"] == 9
    unscorable = json.loads(run_score("ODI", "[3,null,2,1,null,2,2,null,2,2]").stdout)
    assert unscorable == {**unscorable, "score": None, "scorable": False}


@pytest.mark.parametrize(
    ("code", "stdin", "message"),
    [
        ("ODI", "[1,2,1,0,3,2,1,0,2,9]", "ODI item 10 (travelling): 9 is outside 0–5"),
        ("ODI", "not json", "standard input is not JSON"),
        ("XYZ", "[1]", "unknown instrument 'XYZ'"),
    ],
)
def test_score_command_rejects_with_status_2(code: str, stdin: str, message: str) -> None:
    result = run_score(code, stdin)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""

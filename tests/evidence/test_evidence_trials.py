"""The bundled trials and user study files: loading, validation messages, like-with-like."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from evidence_reference import REPO_ROOT

from prolo.evidence.errors import EvidenceInputError
from prolo.evidence.trials import (
    bundled_trials,
    load_studies,
    parse_studies,
    parse_trials,
    select_trials,
)

SHIPPED = resources.files("prolo.evidence").joinpath("data", "prolotherapy_trials.csv")


def _shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def test_bundled_trials_load_with_citations() -> None:
    trials = bundled_trials()
    assert len(trials) == len(_shipped_text().strip().splitlines()) - 1
    assert all(t.citation and t.year > 1900 for t in trials)
    ongley = next(t for t in trials if t.study_id == "ongley1987")
    assert (ongley.ai, ongley.n1i, ongley.ci, ongley.n2i) == (35, 40, 16, 41)
    assert ongley.label == "Ongley 1987"


def test_shipped_copy_equals_the_shared_source_when_present() -> None:
    shared = REPO_ROOT.parent / "shared" / "evidence" / "prolotherapy_trials.csv"
    if not shared.exists():
        shared = REPO_ROOT.parents[1] / "shared" / "evidence" / "prolotherapy_trials.csv"
    assert shared.exists(), "shared/evidence beside the repository"
    assert shared.read_text(encoding="utf-8") == _shipped_text()


def _replace_field(text: str, row: int, column: str, value: str) -> str:
    import csv
    import io

    records = list(csv.DictReader(io.StringIO(text)))
    records[row - 1][column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (2, "ai", "thirty", "row 2, column 'ai': expected a number"),
        (1, "ai", "50", "row 1, column 'ai': more events than n1i"),
        (4, "sd1i", "-3", "row 4, column 'sd1i': must be > 0"),
        (3, "confidence", "maybe", "row 3, column 'confidence'"),
        (1, "comparison", "prolotherapy", "row 1, column 'comparison'"),
        (2, "n2i", "", "row 2, column 'n2i': required for a binary outcome"),
        (5, "year", "19x9", "row 5, column 'year'"),
    ],
)
def test_malformed_bundled_row_names_row_and_column(
    row: int, column: str, value: str, message: str
) -> None:
    with pytest.raises(EvidenceInputError, match=message) as info:
        parse_trials(_replace_field(_shipped_text(), row, column, value))
    assert info.value.row == row and info.value.column == column


def test_missing_header_column_is_named() -> None:
    text = _shipped_text().replace("confidence", "certainty", 1)
    with pytest.raises(EvidenceInputError, match="column 'confidence'"):
        parse_trials(text)


def test_select_trials_pools_like_with_like_and_leaves_low_confidence_out() -> None:
    trials = bundled_trials()
    alone = select_trials(trials, comparison="prolotherapy_alone", measure_type="continuous")
    assert [(t.study_id, t.timepoint_months) for t in alone] == [("yelland2004", 6.0)]
    with_low = select_trials(
        trials,
        comparison="prolotherapy_alone",
        measure_type="continuous",
        include_low_confidence=True,
    )
    assert {t.study_id for t in with_low} == {"yelland2004", "dechow1999"}
    late = select_trials(
        trials, comparison="prolotherapy_alone", measure_type="continuous", timepoint=24
    )
    assert late[0].timepoint_months == 24.0
    co = select_trials(trials, comparison="prolotherapy_with_cointerventions")
    assert {t.study_id for t in co} == {"ongley1987", "klein1993"}


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        ("study,ai,bi,ci,di\nA,1,9,2,8\n", "2x2"),
        ("ai,n1i,ci,n2i\n1,10,2,10\n", "2x2n"),
        ("m1i,sd1i,n1i,m2i,sd2i,n2i\n-1.5,2,10,0,2,12\n", "means"),
        ("author,xi,ni\nX,3,10\n", "proportions"),
    ],
)
def test_user_study_layouts(text: str, layout: str) -> None:
    studies = parse_studies(text)
    assert studies.layout == layout and studies.k == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x,y\n1,2\n", "no known column set"),
        ("ai,n1i,ci,n2i\n1,10,2,10\n3,2,1,5\n", "row 2, column 'ai': more events than n1i"),
        ("ai,n1i,ci,n2i\n1,10,2,10\n1,10,,5\n", "row 2, column 'ci': missing value"),
        ("ai,n1i,ci,n2i\n1.5,10,2,10\n", "row 1, column 'ai': expected a whole number"),
        ("m1i,sd1i,n1i,m2i,sd2i,n2i\n1,0,10,0,2,12\n", "row 1, column 'sd1i': must be > 0"),
        ("xi,ni\n3,10\n11,10\n", "row 2, column 'xi'"),
        ("xi,ni\n", "no study rows"),
        ("xi,ni\n3,inf\n", "row 1, column 'ni': expected a finite number"),
    ],
)
def test_user_study_errors_name_row_and_column(text: str, message: str) -> None:
    with pytest.raises(EvidenceInputError, match=message):
        parse_studies(text)


def test_load_studies_from_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\ufeffstudy,xi,ni\nA,3,10\nB,4,12\n", encoding="utf-8")
    studies = load_studies(path)
    assert studies.labels == ["A", "B"] and studies.columns["ni"] == [10.0, 12.0]

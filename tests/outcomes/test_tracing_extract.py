"""Traced questionnaires as course-table columns: the time point rule (pure), and the extraction
on both databases keeping them out of the ordinary columns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from prolo.followup.schedule import DEFAULT
from prolo.outcomes.extract import MEASURES, course_table
from prolo.outcomes.tracing_extract import tracing_columns
from prolo.synth import params, run

DAY0 = dt.date(2025, 1, 1)


def test_a_traced_answer_belongs_to_the_latest_sampled_time_point_it_follows() -> None:
    members = pl.DataFrame(
        {
            "course_id": [1, 1, 2, 3],
            "time_point": ["3m", "6m", "6m", "6m"],
            "sampled": [1, 1, 1, 0],
            "probability": [0.2, 0.25, 0.25, 0.25],
        }
    )
    traced = pl.DataFrame(
        {
            "course_id": [1, 1, 1, 2],
            "instrument": ["NRS", "NRS", "NRS", "NRS"],
            "score": [5.0, 4.0, 3.0, 6.0],
            # course 1: day 130 → 3m; day 260 → 6m, day 280 a later repeat (the earliest counts);
            # course 2: day 100 precedes the 6-month target: belongs to no sampled time point
            "assessed_on": [DAY0 + dt.timedelta(days=d) for d in (130, 260, 280, 100)],
        }
    )
    index = pl.DataFrame({"course_id": [1, 2, 3], "day0": [DAY0] * 3})
    codes = {code: name for name, code in MEASURES.items()}
    wide = tracing_columns(members, traced, index, DEFAULT, codes).sort("course_id")
    rows = {r["course_id"]: r for r in wide.to_dicts()}
    assert rows[1]["nrs_back_3m_traced"] == 5.0
    assert rows[1]["nrs_back_6m_traced"] == 4.0
    assert rows[2]["nrs_back_6m_traced"] is None
    assert (rows[3]["trace_sampled_6m"], rows[3]["trace_probability_6m"]) == (0.0, 0.25)
    assert rows[2]["trace_sampled_3m"] is None  # in no 3-month draw


def test_extraction_keeps_traced_answers_apart(fresh_database_url: str) -> None:
    chosen = params.merged(params.load(None), {"tracing": {"fraction": 0.3, "found": 0.75}})
    report = run.to_database(fresh_database_url, 300, 21, chosen)
    tracing = report.truth["tracing"]
    table = course_table(fresh_database_url, measures=["nrs_back"]).to_pandas()
    sampled = table["trace_sampled_6m"].to_numpy() == 1
    assert sampled.sum() == tracing["sampled"]["6m"]
    traced = ~np.isnan(table["nrs_back_6m_traced"].to_numpy(dtype=float, na_value=np.nan))
    assert traced.sum() == tracing["found"]["6m"]
    assert not (traced & ~sampled).any()
    # a traced course's ordinary 6-month column stays empty: it did not answer
    ordinary = table["nrs_back_6m"].to_numpy(dtype=float, na_value=np.nan)
    assert np.isnan(ordinary[traced]).all()
    baseline = table["nrs_back_baseline"].to_numpy(dtype=float, na_value=np.nan)
    followed = (~np.isnan(ordinary) & ~np.isnan(baseline)).sum()
    assert followed == pytest.approx(
        report.truth["follow_up_completeness"]["6m"] * report.truth["evaluable_courses"], abs=1
    )

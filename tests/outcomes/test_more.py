"""Recurrence, safety, flow, practitioners and key factors against hand computations, lifelines
and simulated truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from prolo.outcomes.factors import key_factors
from prolo.outcomes.flow import patient_flow
from prolo.outcomes.practitioners import Z95, Z998, funnel, limits
from prolo.outcomes.recurrence import kaplan_meier
from prolo.outcomes.safety import summary
from tests.outcomes.simulate import simulate


def responders(days: list[float | None], last: list[float]) -> pd.DataFrame:
    n = len(days)
    return pd.DataFrame(
        {
            "course_id": range(n),
            "patient_id": range(n),
            "site_id": 1,
            "practitioner_id": 1,
            "nrs_back_baseline": 8.0,
            "nrs_back_6m": 2.0,
            "time_to_recurrence_days": [np.nan if d is None else d for d in days],
            "last_contact_days": last,
        }
    )


def test_kaplan_meier_by_hand() -> None:
    """Five responders: recurrences on days 100 and 300, censored at 200, 400 and 800.
    S(182) = 4/5 = 0.8; S(365) = 0.8 × (1 − 1/3) = 0.5333…; S(730) unchanged."""
    table = responders([100, None, 300, None, None], [100, 200, 300, 400, 800])
    result = kaplan_meier(table, "pain50@6m")
    at = {row["horizon"]: row for row in result["at"]}
    assert result["responders"] == 5 and result["recurrences"] == 2
    assert at["6 months"]["recurrence_free"] == pytest.approx(0.8)
    assert at["12 months"]["recurrence_free"] == pytest.approx(0.8 * 2 / 3)
    assert at["24 months"]["recurrence_free"] == pytest.approx(0.8 * 2 / 3)
    assert at["12 months"]["at_risk"] == 2
    assert (
        0
        <= at["12 months"]["ci_lb"]
        < at["12 months"]["recurrence_free"]
        < at["12 months"]["ci_ub"]
    )


def test_safety_rates_with_exact_intervals() -> None:
    sessions = pd.DataFrame({"session_id": range(10), "course_id": [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]})
    events = pd.DataFrame(
        {
            "course_id": [0, 0, 3],
            "session_id": [0, 1, 6],
            "event_type": ["pain_flare"] * 2 + ["bruising"],
            "grade": [1, 2, 1],
            "serious": [False, False, False],
        }
    )
    result = summary(sessions, events, courses=5)
    flare = next(r for r in result["rows"] if r["value"] == "pain_flare")
    assert flare["per_session"]["with_event"] == 2 and flare["per_session"]["total"] == 10
    assert flare["per_course"]["with_event"] == 1 and flare["per_course"]["rate"] == 0.2
    assert result["any_event"]["with_event"] == 2 and result["serious"]["with_event"] == 0
    from scipy.stats import binomtest

    exact = binomtest(2, 10).proportion_ci(method="exact")
    assert (flare["per_session"]["ci_lb"], flare["per_session"]["ci_ub"]) == pytest.approx(
        (exact.low, exact.high)
    )


def test_patient_flow_accounts_for_every_course() -> None:
    table = pd.DataFrame(
        {
            "course_id": range(5),
            "patient_id": [0, 0, 1, 2, 3],
            "site_id": 1,
            "practitioner_id": 1,
            "sessions_done": [2, 0, 3, 1, 4],
            "nrs_back_baseline": [8, 7, np.nan, 0, 6],
            "nrs_back_6m": [3, np.nan, 5, 0, np.nan],
        }
    )
    flow = patient_flow(table, "pain50@6m")
    assert (flow["enrolled_courses"], flow["enrolled_patients"], flow["treated"]) == (5, 4, 4)
    assert flow["evaluable"] == 2 and flow["analysed"] == 1
    assert flow["not_evaluable"] == {
        "no baseline assessment": 1,
        "baseline score 0: relative change undefined": 1,
    }


def test_funnel_limits_by_hand() -> None:
    """Around 0.5 with 100 courses: 0.5 ± 1.95996 × 0.05 and 0.5 ± 3.09023 × 0.05."""
    assert limits(0.5, 100, Z95)[1] == pytest.approx(0.5 + 1.959964 * 0.05, abs=1e-6)
    assert limits(0.5, 100, Z998)[0] == pytest.approx(0.5 - 3.090232 * 0.05, abs=1e-6)


def test_funnel_hides_small_volumes_and_flags_outliers() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for practitioner, (n, rate) in enumerate([(200, 0.5), (200, 0.9), (10, 1.0), (150, 0.48)]):
        for _ in range(n):
            rows.append((practitioner, 8.0, 2.0 if rng.random() < rate else 8.0))
    table = pd.DataFrame(rows, columns=["practitioner_id", "nrs_back_baseline", "nrs_back_6m"])
    table["course_id"] = table["patient_id"] = range(len(table))
    table["site_id"] = 1
    result = {r["practitioner_id"]: r for r in funnel(table, "pain50@6m").rows}
    assert result[2]["rate"] is None and "minimum volume" in result[2]["note"]
    assert result[1]["position"] == "above 99.8% limit"
    assert result[0]["ci_lb"] < result[0]["rate"] < result[0]["ci_ub"]


def test_key_factors_find_the_simulated_effects() -> None:
    """Simulated truth: confirmation by anesthetic block and adherence raise the chance of
    response; practitioners differ (skill SD 0.6 on the log-odds)."""
    sim = simulate(6000, 11, dropout="mar", practitioners=60)
    model = key_factors(sim.table, "pain50@6m", imputations=5)
    rows = {r["factor"]: r for r in model.odds_ratios}
    block = rows["diagnosis confirmed by anesthetic block"]
    assert block["ci_lb"] > 1.5
    assert rows["planned sessions done, per 10%"]["ci_lb"] > 1.0
    assert model.practitioner_tau2 > 0.05
    assert not math.isnan(model.expected[0])

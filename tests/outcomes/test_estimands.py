"""Estimands against known truth (simulated registries) and against outside formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from prolo.outcomes.definitions import evaluate, parse
from prolo.outcomes.estimands import estimand_table, verdict
from prolo.outcomes.intervals import clopper_pearson, rubin, wilson
from tests.outcomes.simulate import simulate


def nrs_table(pairs: list[tuple[float, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "course_id": range(len(pairs)),
            "patient_id": range(len(pairs)),
            "site_id": 1,
            "practitioner_id": 1,
            "region": "lumbar",
            "nrs_back_baseline": [b for b, _ in pairs],
            "nrs_back_6m": [np.nan if f is None else f for _, f in pairs],
        }
    )


def test_reference_nrs_examples() -> None:
    """../shared/reference/instruments.md: 8→4 succeeds under pain50 and pain30; 8→5 only under
    pain30; 0→0 is excluded and counted."""
    table = nrs_table([(8, 4), (8, 5), (0, 0)])
    fifty, thirty = evaluate("pain50@6m", table), evaluate("pain30@6m", table)
    assert list(fifty.success[:2]) == [1.0, 0.0] and list(thirty.success[:2]) == [1.0, 1.0]
    assert not fifty.evaluable[2]
    assert fifty.counts()["excluded: baseline score 0: relative change undefined"] == 1


def test_reference_odi_example() -> None:
    table = pd.DataFrame(
        {
            "course_id": [1],
            "patient_id": [1],
            "site_id": [1],
            "practitioner_id": [1],
            "odi_baseline": [40.0],
            "odi_6m": [30.0],
        }
    )
    assert evaluate("odi10pt@6m", table).success[0] == 1.0
    assert evaluate("odi30@6m", table).success[0] == 0.0


@pytest.mark.parametrize(
    "name", ["pain50@6m", "pain30@12m", "odi10pt@3m", "composite@6m", "pgic@24m"]
)
def test_definition_names_parse(name: str) -> None:
    assert parse(name).name == name


@pytest.mark.parametrize("name", ["pain50", "pain50@7m", "walk30@6m", "pain50@baseline"])
def test_bad_definition_names_are_explained(name: str) -> None:
    with pytest.raises(ValueError, match=r"success definition|time point"):
        parse(name)


def test_simple_estimates_count_and_bound() -> None:
    table = nrs_table([(8, 4), (8, 5), (6, 2), (7, None), (9, None)])
    result = estimand_table(table, "pain50@6m", with_models=False)
    rows = {e.estimand: e for e in result.estimates}
    assert (rows["completers"].numerator, rows["completers"].denominator) == (2, 3)
    assert (rows["missing_failure"].numerator, rows["missing_failure"].denominator) == (2, 5)
    assert (rows["missing_success"].numerator, rows["missing_success"].denominator) == (4, 5)
    assert result.completeness["proportion"] == 0.6
    assert "not trustworthy" in result.warnings[0]


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (10, 10), (412, 1000)])
def test_wilson_matches_statsmodels(x: int, n: int) -> None:
    assert wilson(x, n) == pytest.approx(proportion_confint(x, n, method="wilson"), abs=1e-12)


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (10, 10)])
def test_clopper_pearson_matches_statsmodels(x: int, n: int) -> None:
    assert clopper_pearson(x, n) == pytest.approx(
        proportion_confint(x, n, method="beta"), abs=1e-12
    )


def test_rubins_rules_on_a_worked_example() -> None:
    """Hand-worked: estimates 1, 2, 3 with within-variance 1 each. Q̄ = 2, Ū = 1, B = 1,
    T = 1 + (4/3)·1 = 7/3; with an infinite complete-data df the Barnard–Rubin df equals
    Rubin's (m − 1)/λ² with λ = (4/3)/(7/3) = 4/7: 2·49/16 = 6.125."""
    estimate, total, df, _ = rubin([1, 2, 3], [1, 1, 1], complete_df=1e12)
    assert (estimate, total) == pytest.approx((2, 7 / 3))
    assert df == pytest.approx(6.125, rel=1e-6)


def test_verdicts_against_the_claim_band() -> None:
    band = (0.8, 0.9)
    assert verdict(0.4, 0.6, band) == "below the claimed band"
    assert verdict(0.82, 0.88, band) == "within the claimed band"
    assert verdict(0.7, 0.85, band) == "overlaps the claimed band"
    assert verdict(0.91, 0.95, band) == "above the claimed band"


def test_mi_and_ipw_cover_the_truth_under_missing_at_random() -> None:
    """Known truth, 24 seeds of 2,000 courses: the completers' interval misses often, the
    MAR-based intervals cover the true rate in most seeds (nominal 95%)."""
    covered = {"multiple_imputation": 0, "ipw": 0, "completers": 0}
    wilson_covered = 0
    seeds = range(24)
    for seed in seeds:
        sim = simulate(2000, seed, dropout="mar")
        result = estimand_table(sim.table, "pain50@6m", imputations=10, seed=seed)
        for name in covered:
            row = result.get(name)
            covered[name] += row.ci_lb <= sim.true_rate <= row.ci_ub  # type: ignore[operator]
        assert result.clustering is not None  # the completers' Wilson interval, unclustered
        low, high = result.clustering["wilson"]["completers"]
        wilson_covered += low <= sim.true_rate <= high
    assert covered["multiple_imputation"] >= 0.8 * len(seeds)
    assert covered["ipw"] >= 0.8 * len(seeds)
    # the completers' Wilson interval misses often (their clustered interval is wider)
    assert wilson_covered < 0.5 * len(seeds)
    assert wilson_covered <= covered["completers"] < len(seeds)


def test_outcome_dependent_dropout_inflates_completers_and_the_bounds_hold() -> None:
    sim = simulate(4000, 7, dropout="mnar")
    result = estimand_table(sim.table, "pain50@6m", imputations=5)
    completers = result.get("completers")
    assert completers.estimate is not None and completers.estimate > sim.true_rate + 0.2
    low, high = result.get("missing_failure"), result.get("missing_success")
    assert low.estimate is not None and high.estimate is not None
    assert low.estimate <= sim.true_rate <= high.estimate

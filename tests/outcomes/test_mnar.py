"""Double sampling, delta-adjusted sensitivity and clustered intervals (issue 18), checked by hand
and against synthetic truth (small simulated course tables, no database)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from prolo.outcomes import double_sampling, sensitivity
from prolo.outcomes.definitions import evaluate, parse
from prolo.outcomes.estimands import estimand_table
from prolo.outcomes.intervals import cluster_robust_variance, clustered_proportion, wilson
from tests.outcomes.simulate import Simulated, simulate

PAIN50 = parse("pain50@6m")


def with_tracing(sim: Simulated, fraction: float, found: float, seed: int) -> pd.DataFrame:
    """Trace a random ``fraction`` of the missed 6-month questionnaires; find ``found`` of them."""
    assert sim.complete_6m is not None
    table = sim.table.copy()
    rng = np.random.default_rng([seed, 18])
    missed = np.isnan(table["nrs_back_6m"].to_numpy())
    eligible = np.flatnonzero(missed)
    size = round(fraction * len(eligible))
    drawn = rng.choice(eligible, size, replace=False)
    sampled = np.where(missed, 0.0, np.nan)
    sampled[drawn] = 1.0
    traced = np.full(len(table), np.nan)
    got = drawn[rng.random(size) < found]
    traced[got] = sim.complete_6m[got]
    return table.assign(
        trace_sampled_6m=sampled,
        trace_probability_6m=np.where(missed, size / len(eligible), np.nan),
        nrs_back_6m_traced=traced,
    )


def test_double_sampling_on_a_hand_computed_example() -> None:
    # 4 responders (3 successes); 8 non-responders sampled at π = 1/2 → 4 sampled, 3 found
    # (1 success). Weights 1/π = 2, scaled to carry all sampled: 2·8/6 = 8/3 each.
    result = double_sampling.combine(
        np.array([1, 1, 1, 0]), np.array([1, 0, 0]), np.array([2.0, 2.0, 2.0]), 8.0, 4
    )
    # N = 12, r = 1/3, p_R = 3/4, p_T = 1/3 → p = 1/4 + 2/9 = 17/36
    assert result.estimate == pytest.approx(17 / 36)
    # (p_R − p_T)² r(1−r)/N + r² p_R(1−p_R)/R + (1−r)² p_T(1−p_T)/k
    variance = (5 / 12) ** 2 * (2 / 9) / 12 + (1 / 9) * (3 / 16) / 4 + (4 / 9) * (2 / 9) / 3
    assert result.variance == pytest.approx(variance)
    assert result.found_share == pytest.approx(3 / 4)
    # the sampled but not found as failures: (3 + 2·1) / 12
    assert result.if_not_found_failed == pytest.approx(5 / 12)
    se = math.sqrt(variance) / (17 / 36 * 19 / 36)
    logit = math.log(17 / 19)
    assert result.ci_lb == pytest.approx(1 / (1 + math.exp(-(logit - 1.959964 * se))), 1e-6)
    assert result.ci_ub == pytest.approx(1 / (1 + math.exp(-(logit + 1.959964 * se))), 1e-6)


def test_double_sampling_covers_the_truth_under_outcome_dependent_dropout() -> None:
    sim = simulate(3000, 7, dropout="mnar")
    table = with_tracing(sim, 0.2, 0.8, 7)
    result = double_sampling.estimate(PAIN50, table, evaluate(PAIN50, table))
    assert result is not None
    assert result.ci_lb <= sim.true_rate <= result.ci_ub
    assert result.found_share == pytest.approx(0.8, abs=0.08)
    assert result.if_not_found_failed < result.estimate
    # the completers and MI miss, for contrast
    assert sim.completers_rate > sim.true_rate + 0.15


def test_double_sampling_is_unbiased_and_its_variance_honest_across_seeds() -> None:
    estimates, errors, variances, covered = [], [], [], 0
    for seed in range(60):
        # practitioners as many as courses: no clustering, so that fresh registries are
        # independent draws of the same population
        sim = simulate(1500, 100 + seed, dropout="mnar", practitioners=1500)
        table = with_tracing(sim, 0.25, 0.8, seed)
        result = double_sampling.estimate(PAIN50, table, evaluate(PAIN50, table))
        assert result is not None
        estimates.append(result.estimate)
        errors.append(result.estimate - sim.true_rate)
        variances.append(result.variance)
        covered += result.ci_lb <= sim.true_rate <= result.ci_ub
    assert abs(np.mean(errors)) < 0.006
    # the linearised variance is the estimate's spread over registries drawn afresh (the
    # superpopulation), wider than its spread around each registry's own realised rate
    assert np.var(estimates) == pytest.approx(np.mean(variances), rel=0.3)
    assert np.var(errors) < np.mean(variances)
    assert covered >= 53


def test_the_estimand_table_gains_double_sampling_only_with_tracing() -> None:
    sim = simulate(800, 3, dropout="mnar")
    plain = estimand_table(sim.table, "pain50@6m", imputations=3)
    assert plain.find("double_sampling") is None
    traced = estimand_table(with_tracing(sim, 0.3, 0.9, 3), "pain50@6m", imputations=3)
    estimate = traced.get("double_sampling")
    assert estimate.estimate is not None and "found" in estimate.method
    assert traced.as_dict()["tracing"]["found_share"] == pytest.approx(0.9, abs=0.1)


def test_tipping_point_is_on_the_refuting_side_of_the_truths_delta() -> None:
    sim = simulate(3000, 11, dropout="mnar")
    result = sensitivity.analyse(PAIN50, sim.table, claim_band=(0.8, 0.9), imputations=5)
    assert result is not None
    assert result.as_dict().keys() == {"definition", "scale", "grid", "tipping_point"}
    assert result.scale == "score"
    deltas = [row["delta"] for row in result.grid]
    estimates = [row["estimate"] for row in result.grid]
    assert estimates == sorted(estimates, reverse=True)  # worse non-responders, lower rate
    # The truth's δ: where the delta-adjusted estimate meets the true rate. The grid brackets
    # it, and the tipping point lies before it: at the truth the claim is ruled out.
    assert estimates[-1] < sim.true_rate < estimates[0]
    truth_delta = float(np.interp(sim.true_rate, estimates[::-1], deltas[::-1]))
    assert truth_delta > 0  # the lost did worse than similar responders (MNAR)
    tip = result.tipping_point["delta"]
    assert tip is not None and tip < truth_delta
    assert "points better on the pain scale" in result.tipping_point["text"]
    assert "patients who stopped answering" in result.tipping_point["text"]


def test_sensitivity_at_zero_under_mar_covers_the_truth_and_log_odds_for_composite() -> None:
    sim = simulate(2000, 5, dropout="mar")
    result = sensitivity.analyse(PAIN50, sim.table, claim_band=(0.3, 0.35), imputations=5)
    assert result is not None
    zero = next(row for row in result.grid if row["delta"] == 0)
    assert zero["ci_lb"] <= sim.true_rate <= zero["ci_ub"]
    assert "ruled out" in result.tipping_point["text"]
    table = sim.table.assign(pgic_6m=np.where(np.isnan(sim.table["nrs_back_6m"]), np.nan, 2.0))
    pgic = sensitivity.analyse(parse("pgic@6m"), table, claim_band=(0.8, 0.9), imputations=3)
    assert pgic is not None and pgic.scale == "log_odds"
    lows = [row["ci_lb"] for row in pgic.grid]
    assert lows == sorted(lows, reverse=True)


def clustered_sample(seed: int, clusters: int = 60, size: int = 40) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(clusters), size)
    effect = rng.normal(0, 1.0, clusters)[group]
    y = (rng.random(len(group)) < 1 / (1 + np.exp(-(effect - 0.2)))).astype(float)
    return y, group


def test_cluster_robust_variance_matches_statsmodels() -> None:
    y, group = clustered_sample(1)
    fit = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": group})
    assert cluster_robust_variance(y, group) == pytest.approx(float(fit.bse[0]) ** 2, rel=1e-9)


def test_clustered_interval_is_wider_than_wilson_by_the_design_effect() -> None:
    y, group = clustered_sample(2)
    result = clustered_proportion(y, group)
    n = len(y)
    # design effect by hand: 1 + (m − 1)·ICC with the one-way ANOVA ICC (equal clusters of 40)
    frame = pd.DataFrame({"y": y, "g": group})
    means = frame.groupby("g")["y"].mean().to_numpy()
    msb = 40 * np.sum((means - y.mean()) ** 2) / (60 - 1)
    msw = np.sum((y - means[group]) ** 2) / (n - 60)
    icc = (msb - msw) / (msb + 39 * msw)
    assert result.design_effect == pytest.approx(1 + 39 * icc, rel=0.15)
    assert result.design_effect > 2
    low, high = wilson(y.sum(), n)
    assert result.ci_lb is not None and result.ci_ub is not None
    assert low is not None and high is not None
    assert (result.ci_ub - result.ci_lb) / (high - low) == pytest.approx(
        math.sqrt(result.design_effect), rel=0.05
    )
    assert "design effect" in result.method


def test_clustered_intervals_cover_the_practitioner_level_rate_where_wilson_does_not() -> None:
    # Truth: the success rate over practitioners in general (the effects' distribution), not
    # only those sampled — what a claim about the treatment means.
    rng = np.random.default_rng(0)
    effects = rng.normal(0, 1.0, 1_000_000)
    truth = float(np.mean(1 / (1 + np.exp(-(effects - 0.2)))))
    clustered = plain = 0
    for seed in range(200):
        y, group = clustered_sample(1000 + seed, clusters=30, size=40)
        result = clustered_proportion(y, group)
        assert result.ci_lb is not None and result.ci_ub is not None
        clustered += result.ci_lb <= truth <= result.ci_ub
        low, high = wilson(y.sum(), len(y))
        plain += low <= truth <= high  # type: ignore[operator]
    assert clustered >= 180 > plain + 30


def test_few_practitioners_fall_back_to_wilson() -> None:
    y, group = clustered_sample(3, clusters=4)
    result = clustered_proportion(y, group)
    assert result.design_effect is None
    assert (result.ci_lb, result.ci_ub) == wilson(y.sum(), len(y))
    assert "too few" in result.method

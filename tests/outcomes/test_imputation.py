"""The imputation model fitted once and drawn from m times gives the very draws of fitting it
anew for every draw (van Buuren 2018, §3.4: norm.draw, then type-1 predictive mean matching
with 5 donors), written out here independently of ``prolo.outcomes.imputation``."""

from __future__ import annotations

import numpy as np

from prolo.outcomes import imputation
from prolo.outcomes.definitions import evaluate, parse
from prolo.outcomes.estimands import CompletedSuccess
from tests.outcomes.simulate import simulate


def _norm_draw_pmm(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    observed = ~np.isnan(y)
    result = y.copy()
    x_obs, y_obs = x[observed], y[observed]
    xtx = x_obs.T @ x_obs + 1e-6 * np.eye(x.shape[1])
    beta_hat = np.linalg.solve(xtx, x_obs.T @ y_obs)
    residual = y_obs - x_obs @ beta_hat
    sigma = np.sqrt(float(residual @ residual) / rng.chisquare(len(y_obs) - x.shape[1]))
    chol = np.linalg.cholesky(np.linalg.inv(xtx) + 1e-12 * np.eye(x.shape[1]))
    beta_star = beta_hat + sigma * chol @ rng.standard_normal(x.shape[1])
    fitted, wanted = x_obs @ beta_hat, x[~observed] @ beta_star
    order = np.argsort(fitted)
    position = np.searchsorted(fitted[order], wanted)
    window = np.clip(position[:, None] + np.arange(-5, 5)[None, :], 0, len(fitted) - 1)
    nearest = np.argsort(np.abs(fitted[order][window] - wanted[:, None]), axis=1)[:, :5]
    pick = nearest[np.arange(len(nearest)), rng.integers(0, 5, len(nearest))]
    result[~observed] = y_obs[order[window[np.arange(len(window)), pick]]]
    return result


def test_one_fit_gives_the_draws_of_a_fit_per_draw() -> None:
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(500), rng.normal(size=(500, 3))])
    y = np.round(x @ [5, 1, -1, 0.5] + rng.normal(size=500))
    y[rng.random(500) < 0.4] = np.nan
    model = imputation.fit(x, y)
    ours, reference = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(5):
        drawn = model.draw(ours)
        assert np.array_equal(drawn, _norm_draw_pmm(x, y, reference))
        assert not np.isnan(drawn).any()
        assert set(drawn[np.isnan(y)]) <= set(y[~np.isnan(y)])  # donors' observed values
    assert np.isnan(y).sum() > 0  # the model left its input alone


def test_nothing_to_impute_returns_the_scores_and_draws_nothing() -> None:
    x = np.column_stack([np.ones(4), np.arange(4.0)])
    rng = np.random.default_rng(1)
    for y in (np.arange(4.0), np.array([1.0, np.nan, np.nan, np.nan])):
        assert np.array_equal(imputation.fit(x, y).draw(rng), y, equal_nan=True)
    assert rng.random() == np.random.default_rng(1).random()


def test_completed_success_reads_only_the_definition_and_completes_every_course() -> None:
    sim = simulate(2_000, 5)
    d = parse("pain50@6m")
    evaluable = sim.table[evaluate(d, sim.table).evaluable].reset_index(drop=True)
    draws = CompletedSuccess(d, evaluable)
    first, second = draws.draw(np.random.default_rng(2)), draws.draw(np.random.default_rng(2))
    assert np.array_equal(first, second)
    assert len(first) == len(evaluable) and not np.isnan(first).any()

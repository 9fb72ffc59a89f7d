"""Multiple imputation of follow-up scores under missing-at-random: a Bayesian linear model with
parameter draws and predictive mean matching (van Buuren, Flexible Imputation of Missing Data,
2018, §3.4: "norm.draw" then type-1 matching with 5 donors). Vectorised over all courses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prolo.outcomes.table import TIME_POINTS, numeric, score_column

Array = np.ndarray[Any, np.dtype[Any]]
CATEGORIES = {
    "sex": ("female", "male"),
    "region": ("cervical", "thoracic", "lumbar", "sacroiliac_pelvic"),
    "diagnosis_confirmation": ("palpation_provocation", "anesthetic_block", "imaging", "none"),
}
DONORS = 5


def _filled(values: Array) -> list[Array]:
    """A covariate with its missing values set to the mean, and a missing-indicator column."""
    missing = np.isnan(values)
    mean = float(np.nanmean(values)) if (~missing).any() else 0.0
    columns = [np.where(missing, mean, values)]
    if missing.any():
        columns.append(missing.astype(float))
    return columns


def covariates(table: pd.DataFrame, measure: str, time_point: str) -> Array:
    """Baseline scores, earlier follow-ups, demographics, region, diagnosis, adherence."""
    columns: list[Array] = [np.ones(len(table))]
    for baseline in dict.fromkeys((measure if measure != "pgic" else "nrs_back", "nrs_back")):
        columns += _filled(numeric(table, score_column(baseline, "baseline")))
    for earlier in TIME_POINTS[1 : TIME_POINTS.index(time_point)]:
        columns += _filled(numeric(table, score_column(measure, earlier)))
    for name in ("age", "duration_months", "followup_therapy_adherence"):
        columns += _filled(numeric(table, name))
    planned = numeric(table, "planned_sessions")
    done = numeric(table, "sessions_done")
    with np.errstate(divide="ignore", invalid="ignore"):
        columns += _filled(np.where(planned > 0, done / planned, np.nan))
    for name, levels in CATEGORIES.items():
        if name in table.columns:
            values = table[name].astype(str).to_numpy()
            columns += [(values == level).astype(float) for level in levels[1:]]
    return informative(np.column_stack(columns))


def informative(x: Array) -> Array:
    """Keep the intercept and the columns that vary (a constant column makes X'X singular)."""
    varies = x.std(axis=0) > 0
    varies[0] = True
    return x[:, varies]


def practitioner_effect(table: pd.DataFrame, target: Array, prior: float = 10.0) -> Array:
    """Each practitioner's observed mean of the target, shrunk toward the overall mean with
    ``prior`` pseudo-courses: one column standing for practitioner in the imputation model."""
    if "practitioner_id" not in table.columns:
        return np.zeros(len(table))
    frame = pd.DataFrame({"p": table["practitioner_id"].to_numpy(), "y": target})
    overall = float(np.nanmean(target))
    stats = frame.groupby("p")["y"].agg(["sum", "count"])
    shrunk = (stats["sum"] + prior * overall) / (stats["count"] + prior)
    return frame["p"].map(shrunk).to_numpy(dtype=float)


@dataclass
class Model:
    """One imputation model of ``y`` given ``x``: what does not change between draws (the fit,
    the sorted predictions of the observed that donors are matched on) computed once, so that
    m draws cost m small steps rather than m fits."""

    y: Array
    observed: Array
    x_missing: Array
    beta_hat: Array
    chol: Array
    residual_ss: float
    df: int
    order: Array
    sorted_pred: Array
    y_obs: Array

    def draw(self, rng: np.random.Generator) -> Array:
        """One imputation of the missing entries of ``y`` (a full copy). The draws use ``rng`` in
        the order of mice's norm.draw: σ², then β, then the donors."""
        result = self.y.copy()
        if self.x_missing.shape[0] == 0:
            return result
        sigma = np.sqrt(self.residual_ss / rng.chisquare(self.df))
        beta_star = self.beta_hat + sigma * self.chol @ rng.standard_normal(len(self.beta_hat))
        predicted_mis = self.x_missing @ beta_star
        sorted_pred = self.sorted_pred
        position = np.searchsorted(sorted_pred, predicted_mis)
        offsets = np.arange(-DONORS, DONORS)
        window = np.clip(position[:, None] + offsets[None, :], 0, len(sorted_pred) - 1)
        distance = np.abs(sorted_pred[window] - predicted_mis[:, None])
        nearest = np.argsort(distance, axis=1)[:, :DONORS]
        pick = nearest[np.arange(len(nearest)), rng.integers(0, DONORS, len(nearest))]
        donors = self.order[window[np.arange(len(window)), pick]]
        result[~self.observed] = self.y_obs[donors]
        return result


def fit(x: Array, y: Array) -> Model:
    """The imputation model of the missing entries of ``y`` (nothing to impute when all are
    observed, or too few are to fit the model: its draws then return ``y`` unchanged)."""
    observed = ~np.isnan(y)
    p = x.shape[1]
    if observed.all() or observed.sum() <= p:
        empty = np.zeros((0, p))
        return Model(y, observed, empty, np.zeros(p), np.eye(p), 0.0, 1, *([np.zeros(0)] * 3))
    x_obs, y_obs = x[observed], y[observed]
    xtx = x_obs.T @ x_obs + 1e-6 * np.eye(p)  # a ridge as in mice's norm.draw
    beta_hat = np.linalg.solve(xtx, x_obs.T @ y_obs)
    residual = y_obs - x_obs @ beta_hat
    chol = np.linalg.cholesky(np.linalg.inv(xtx) + 1e-12 * np.eye(p))
    predicted_obs = x_obs @ beta_hat
    order = np.argsort(predicted_obs)
    return Model(
        y=y,
        observed=observed,
        x_missing=x[~observed],
        beta_hat=beta_hat,
        chol=chol,
        residual_ss=float(residual @ residual),
        df=max(len(y_obs) - p, 1),
        order=order,
        sorted_pred=predicted_obs[order],
        y_obs=y_obs,
    )


def draw_impute(x: Array, y: Array, rng: np.random.Generator) -> Array:
    """One imputation of the missing entries of ``y`` (returns a full copy)."""
    return fit(x, y).draw(rng)

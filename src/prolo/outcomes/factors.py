"""Key factors: which course characteristics go with success, as adjusted odds ratios.

Logistic regression of success on diagnosis confirmation, adherence (planned sessions done,
follow-up therapy), practitioner experience and training, baseline severity, duration, region,
age and sex; standard errors robust to clustering by practitioner (statsmodels GLM,
``cov_type="cluster"``); fitted on each multiply-imputed data set and pooled by Rubin's rules.
The practitioner-level variance is the DerSimonian–Laird τ² of each practitioner's log-odds of
success beyond what the model expects (method of moments over practitioners).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prolo.evidence.tau2 import dersimonian_laird
from prolo.outcomes.definitions import evaluate, parse
from prolo.outcomes.estimands import CompletedSuccess
from prolo.outcomes.intervals import rubin
from prolo.outcomes.table import as_pandas, numeric, score_column

Array = np.ndarray[Any, np.dtype[Any]]


def design(table: pd.DataFrame, measure: str) -> pd.DataFrame:
    """The named covariates of the factor model (reference levels in the comments)."""
    x: dict[str, Array] = {}
    diagnosis = table["diagnosis_confirmation"].astype(str).to_numpy()  # ref: palpation/provocation
    for level in ("anesthetic_block", "imaging", "none"):
        x[f"diagnosis confirmed by {level.replace('_', ' ')}"] = (diagnosis == level).astype(float)
    planned, done = numeric(table, "planned_sessions"), numeric(table, "sessions_done")
    with np.errstate(divide="ignore", invalid="ignore"):
        x["planned sessions done, per 10%"] = (
            np.nan_to_num(np.where(planned > 0, done / planned, 0)) * 10
        )
    therapy = numeric(table, "followup_therapy_adherence")
    x["follow-up therapy adherence, per 10 points"] = np.nan_to_num(therapy, nan=0.0) / 10
    x["no follow-up therapy prescribed"] = np.isnan(therapy).astype(float)
    x["practitioner experience, per 10 years"] = (
        np.nan_to_num(numeric(table, "practitioner_years")) / 10
    )
    x["practitioner with verified training"] = np.nan_to_num(numeric(table, "practitioner_trained"))
    x["practitioner's prior procedures, per doubling"] = np.log2(
        np.nan_to_num(numeric(table, "practitioner_prior_procedures")) + 1
    )
    baseline = numeric(table, score_column(measure, "baseline"))
    x["baseline severity, per point"] = np.nan_to_num(baseline, nan=float(np.nanmean(baseline)))
    x["duration, per doubling of months"] = np.log2(
        np.nan_to_num(numeric(table, "duration_months")) + 1
    )
    region = table["region"].astype(str).to_numpy()  # ref: lumbar
    for level in ("cervical", "thoracic", "sacroiliac_pelvic"):
        x[f"region {level.replace('_', ' ')}"] = (region == level).astype(float)
    age = numeric(table, "age")
    x["age, per 10 years"] = np.nan_to_num(age, nan=float(np.nanmean(age))) / 10
    x["male sex"] = (table["sex"].astype(str).to_numpy() == "male").astype(float)  # ref: female
    frame = pd.DataFrame(x)
    return frame.loc[:, frame.std() > 0]


@dataclass
class FactorModel:
    definition: str
    odds_ratios: list[dict[str, Any]]
    practitioner_tau2: float
    practitioner_tau2_se: float
    practitioners: int
    imputations: int
    expected: Array  # model probability of success per course of the table (NaN if not evaluable)

    def as_dict(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "method": "logistic regression, practitioner-clustered robust errors, "
            f"{self.imputations} imputations pooled by Rubin's rules; 95% intervals",
            "odds_ratios": self.odds_ratios,
            "practitioner_variance": {
                "tau2": self.practitioner_tau2,
                "se": self.practitioner_tau2_se,
                "practitioners": self.practitioners,
                "definition": "between-practitioner variance of the log-odds of success beyond "
                "the case mix (DerSimonian–Laird over practitioners)",
            },
        }


def _fit(y: Array, x: pd.DataFrame, groups: Array) -> Any:
    import warnings

    import statsmodels.api as sm

    # Small registries can separate perfectly on a rare covariate; the intervals then show it
    # (they become very wide), so the library's console warnings add nothing for a reader.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, sm.add_constant(x, has_constant="add"), family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": groups}
        )


def key_factors(
    table: Any, definition: str, *, imputations: int = 20, seed: int = 7
) -> FactorModel:
    d = parse(definition)
    frame = as_pandas(table)
    evaluation = evaluate(d, frame)
    evaluable = frame[evaluation.evaluable].reset_index(drop=True)
    x = design(evaluable, d.measures[0])
    groups = pd.factorize(evaluable["practitioner_id"])[0]
    rng = np.random.default_rng(seed)
    params, variances, predictions = [], [], []
    draws = CompletedSuccess(d, evaluable)
    for _ in range(imputations):
        y = draws.draw(rng)
        fitted = _fit(y, x, groups)
        params.append(fitted.params.to_numpy())
        variances.append(np.diag(fitted.cov_params().to_numpy()))
        predictions.append(fitted.predict())
    names = ["intercept", *x.columns]
    rows = []
    for k, name in enumerate(names[1:], start=1):
        estimate, total, _df, half = rubin([p[k] for p in params], [v[k] for v in variances], 1e6)
        rows.append(
            {
                "factor": name,
                "odds_ratio": math.exp(estimate),
                "ci_lb": math.exp(estimate - half),
                "ci_ub": math.exp(estimate + half),
                "log_odds": estimate,
                "se": math.sqrt(total),
            }
        )
    expected_evaluable = np.mean(predictions, axis=0)
    expected = np.full(len(frame), np.nan)
    expected[evaluation.evaluable] = expected_evaluable
    tau2, se, count = practitioner_variance(
        evaluable, evaluation.success[evaluation.evaluable], expected_evaluable
    )
    return FactorModel(d.name, rows, tau2, se, count, imputations, expected)


def practitioner_variance(
    table: pd.DataFrame, success: Array, expected: Array
) -> tuple[float, float, int]:
    """DerSimonian–Laird τ² of practitioners' observed-vs-expected log-odds (followed courses)."""
    seen = ~np.isnan(success)
    frame = pd.DataFrame(
        {"p": table["practitioner_id"].to_numpy()[seen], "o": success[seen], "e": expected[seen]}
    )
    grouped = frame.groupby("p").agg(o=("o", "sum"), e=("e", "sum"), n=("o", "size"))
    grouped = grouped[grouped["n"] >= 5]
    if len(grouped) < 3:
        return math.nan, math.nan, len(grouped)
    n = grouped["n"].to_numpy(float)
    o = grouped["o"].to_numpy(float) + 0.5
    e = grouped["e"].to_numpy(float) + 0.5
    yi = np.log(o / (n + 1 - o)) - np.log(e / (n + 1 - e))
    vi = 1 / o + 1 / (n + 1 - o)
    estimate = dersimonian_laird(yi, vi)
    return estimate.tau2, estimate.se, len(grouped)


def forest_figure(model: FactorModel) -> Any:
    """Adjusted odds ratios with 95% intervals on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = model.odds_ratios
    figure, axis = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.2))
    for y, row in enumerate(reversed(rows)):
        axis.plot([row["ci_lb"], row["ci_ub"]], [y, y], color="#0b5394")
        axis.plot(row["odds_ratio"], y, "s", color="#0b5394")
    axis.axvline(1, color="black", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_yticks(range(len(rows)), [r["factor"] for r in reversed(rows)], fontsize=8)
    axis.set_xlabel(f"adjusted odds ratio of success ({model.definition}), 95% CI")
    figure.tight_layout()
    return figure

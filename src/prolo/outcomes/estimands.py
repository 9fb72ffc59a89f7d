"""Estimands for one success definition over one cohort (DESIGN §5), each with a 95% interval.

- completers: successes ÷ courses followed at the time point (what anecdotal reports measure);
- missing_failure: successes ÷ evaluable courses (a lower bound);
- missing_success: (successes + not followed) ÷ evaluable courses (an upper bound);
- multiple_imputation: missing follow-ups imputed under missing-at-random (``imputation``),
  m completed data sets pooled on the logit scale by Rubin's rules;
- ipw: followed courses weighted by the inverse of their estimated probability of being
  followed (logistic model on baseline covariates), Hájek estimator;
- double_sampling (only when traced questionnaires exist): responders plus a traced random
  sample of the non-responders weighted by the inverse of its sampling fraction
  (``double_sampling``), unbiased whatever the drop-out mechanism when the traced are found.

Completers, the two bounds and completeness get intervals that account for the clustering of
courses within practitioners (``intervals.clustered_proportion``: cluster-robust design effect,
Wilson on the effective sample size; plain Wilson under 10 practitioners); each says which.

Completeness (followed ÷ evaluable) is always reported; below 80% the completers figure is
flagged as not trustworthy. Each interval is held against the claimed success band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prolo.outcomes import double_sampling, imputation
from prolo.outcomes.definitions import Definition, Evaluation, disability_columns, evaluate, parse
from prolo.outcomes.intervals import (
    ClusteredProportion,
    clustered_proportion,
    expit,
    logit,
    rubin,
    wilson,
)
from prolo.outcomes.table import as_pandas, numeric, score_column

ESTIMANDS = (
    "completers",
    "missing_failure",
    "missing_success",
    "multiple_imputation",
    "ipw",
    "double_sampling",
)
CLAIM_BAND = (0.80, 0.90)
COMPLETENESS_WARNING = 0.80
MIN_PROPENSITY = 0.02  # weights are truncated at 1/0.02 = 50 so that no course dominates


@dataclass(frozen=True)
class Estimate:
    definition: str
    estimand: str
    estimate: float | None
    ci_lb: float | None
    ci_ub: float | None
    numerator: float | None
    denominator: int
    method: str
    verdict: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EstimandTable:
    definition: str
    description: str
    estimates: list[Estimate]
    completeness: dict[str, Any]
    counts: dict[str, int]
    claim_band: tuple[float, float]
    warnings: list[str] = field(default_factory=list)
    tracing: dict[str, Any] | None = None  # double sampling's details, when traced data exist
    clustering: dict[str, Any] | None = None  # design effects and the Wilson intervals beside

    def get(self, estimand: str) -> Estimate:
        """The named estimate; KeyError when it was not computed (e.g. no evaluable course)."""
        for estimate in self.estimates:
            if estimate.estimand == estimand:
                return estimate
        raise KeyError(f"{estimand} was not computed for {self.definition}")

    def find(self, estimand: str) -> Estimate | None:
        return next((e for e in self.estimates if e.estimand == estimand), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "description": self.description,
            "estimands": [e.as_dict() for e in self.estimates],
            "completeness": self.completeness,
            "counts": self.counts,
            "claim_band": list(self.claim_band),
            "warnings": self.warnings,
            **({"tracing": self.tracing} if self.tracing is not None else {}),
            **({"clustering": self.clustering} if self.clustering is not None else {}),
        }


def verdict(low: float | None, high: float | None, band: tuple[float, float]) -> str:
    """Where a 95% interval lies against the claimed band."""
    if low is None or high is None:
        return "no estimate"
    if high < band[0]:
        return "below the claimed band"
    if low > band[1]:
        return "above the claimed band"
    if band[0] <= low and high <= band[1]:
        return "within the claimed band"
    return "overlaps the claimed band"


def _proportion(
    definition: str,
    estimand: str,
    y: np.ndarray[Any, Any],
    clusters: np.ndarray[Any, Any] | None,
    band: tuple[float, float],
) -> tuple[Estimate, ClusteredProportion]:
    """A proportion of 0/1 outcomes with its clustered (or, without clusters, Wilson) interval."""
    if clusters is None:  # no practitioners known: plain Wilson
        result = clustered_proportion(y, np.zeros(len(y)))
        method = "Wilson 95% interval"
    else:
        result = clustered_proportion(y, clusters)
        method = result.method
    x = float(np.sum(y))
    estimate = Estimate(
        definition,
        estimand,
        result.estimate,
        result.ci_lb,
        result.ci_ub,
        x,
        len(y),
        method,
        verdict(result.ci_lb, result.ci_ub, band),
    )
    return estimate, result


def simple_estimates(
    evaluation: Evaluation, band: tuple[float, float], table: pd.DataFrame | None = None
) -> list[Estimate]:
    """Completers and the two bounds — no model, vectorised counts; intervals clustered by
    practitioner when the table has them."""
    return [e for e, _ in _simple(evaluation, band, table)]


def _simple(
    evaluation: Evaluation, band: tuple[float, float], table: pd.DataFrame | None
) -> list[tuple[Estimate, ClusteredProportion]]:
    name = evaluation.definition.name
    evaluable = evaluation.evaluable
    followed = evaluable & evaluation.observed
    practitioner = (
        table["practitioner_id"].to_numpy()
        if table is not None and "practitioner_id" in table.columns
        else None
    )
    success = np.nan_to_num(evaluation.success, nan=0.0)
    missing = (evaluable & ~evaluation.observed).astype(float)

    def clusters(mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
        return practitioner[mask] if practitioner is not None else None

    return [
        _proportion(name, "completers", success[followed], clusters(followed), band),
        _proportion(name, "missing_failure", success[evaluable], clusters(evaluable), band),
        _proportion(
            name,
            "missing_success",
            success[evaluable] + missing[evaluable],
            clusters(evaluable),
            band,
        ),
    ]


def _target_model(
    table: pd.DataFrame, measure: str, point: str, values: np.ndarray[Any, Any]
) -> imputation.Model:
    x = imputation.covariates(table, measure, point)
    x = imputation.informative(np.column_stack([x, imputation.practitioner_effect(table, values)]))
    return imputation.fit(x, values)


def _impute_target(
    table: pd.DataFrame,
    measure: str,
    point: str,
    values: np.ndarray[Any, Any],
    rng: np.random.Generator,
) -> np.ndarray[Any, Any]:
    return _target_model(table, measure, point, values).draw(rng)


def _read_columns(d: Definition) -> list[str]:
    """The columns a single-measure definition's evaluation reads."""
    baseline = score_column("nrs_back" if d.kind == "pgic" else d.measures[0], "baseline")
    return [baseline, score_column(d.measures[0], d.time_point)]


class CompletedSuccess:
    """Success indicators of the evaluable courses, one completed data set per :meth:`draw`.

    For a single-measure definition the imputation model is fitted once and each draw costs
    only its random part; evaluating reads the two columns the definition needs rather than a
    copy of the whole table. The draws are the very same as fitting per draw."""

    def __init__(self, d: Definition, table: pd.DataFrame) -> None:
        self.d = d
        self.table = table
        self.model: imputation.Model | None = None
        if d.kind != "composite":
            self.column = score_column(d.measures[0], d.time_point)
            self.model = _target_model(
                table, d.measures[0], d.time_point, numeric(table, self.column)
            )
            self.slim = table[[c for c in _read_columns(d) if c in table.columns]]

    def draw(self, rng: np.random.Generator) -> np.ndarray[Any, Any]:
        if self.model is None:
            return self._composite(rng)
        completed = self.slim.assign(**{self.column: self.model.draw(rng)})
        evaluation = evaluate(self.d, completed)
        return evaluation.success[evaluation.evaluable]

    def _composite(self, rng: np.random.Generator) -> np.ndarray[Any, Any]:
        d, table = self.d, self.table
        completed = table.copy()
        pain = score_column("nrs_back", d.time_point)
        completed[pain] = _impute_target(table, "nrs_back", d.time_point, numeric(table, pain), rng)
        base, follow = disability_columns(completed, d.time_point)
        completed = completed.assign(_dis_base=base)
        with_pain = completed.assign(_pain=completed[pain])
        x = imputation.covariates(with_pain, "odi", d.time_point)
        x = imputation.informative(
            np.column_stack([x, numeric(with_pain, "_pain"), numeric(with_pain, "_dis_base")])
        )
        filled = imputation.draw_impute(x, follow, rng)
        cervical = (completed["region"] == "cervical").to_numpy()
        for column, use in (
            (score_column("ndi", d.time_point), cervical),
            (score_column("odi", d.time_point), ~cervical),
        ):
            completed[column] = np.where(
                use | np.isnan(numeric(completed, column)), filled, numeric(completed, column)
            )
        evaluation = evaluate(d, completed)
        return evaluation.success[evaluation.evaluable]


def multiple_imputation(
    d: Definition,
    table: pd.DataFrame,
    evaluation: Evaluation,
    *,
    m: int,
    seed: int,
    band: tuple[float, float],
) -> Estimate:
    evaluable_table = table[evaluation.evaluable].reset_index(drop=True)
    n = len(evaluable_table)
    followed = int((evaluation.evaluable & evaluation.observed).sum())
    if followed < 2 or followed == n:
        reason = "nothing to impute" if followed == n else "too few followed courses to impute from"
        if followed == n:
            x = float(np.nansum(evaluation.success[evaluation.evaluable]))
            low, high = wilson(x, n)
            return Estimate(
                d.name,
                "multiple_imputation",
                x / n if n else None,
                low,
                high,
                x,
                n,
                "Wilson 95% interval; no missing follow-up: " + reason,
                verdict(low, high, band),
            )
        return Estimate(
            d.name, "multiple_imputation", None, None, None, None, n, reason, "no estimate"
        )
    rng = np.random.default_rng(seed)
    draws = CompletedSuccess(d, evaluable_table)
    q, u = [], []
    for _ in range(m):
        success = draws.draw(rng)
        p = float(np.clip(np.nanmean(success), 0.5 / (n + 1), 1 - 0.5 / (n + 1)))
        q.append(logit(p))
        u.append(1 / (n * p * (1 - p)))
    estimate, _, df, half = rubin(q, u, complete_df=n - 1)
    return Estimate(
        d.name,
        "multiple_imputation",
        expit(estimate),
        expit(estimate - half),
        expit(estimate + half),
        None,
        n,
        f"m={m} imputations (Bayesian linear model, predictive mean matching), Rubin's rules on "
        f"the logit scale, Barnard–Rubin df={df:.0f}",
        verdict(expit(estimate - half), expit(estimate + half), band),
    )


def ipw(
    d: Definition, table: pd.DataFrame, evaluation: Evaluation, *, band: tuple[float, float]
) -> Estimate:
    import statsmodels.api as sm

    keep = evaluation.evaluable
    frame = table[keep].reset_index(drop=True)
    followed = evaluation.observed[keep].astype(float)
    success = evaluation.success[keep]
    n = len(frame)
    if followed.sum() < 2 or n == 0:
        return Estimate(
            d.name,
            "ipw",
            None,
            None,
            None,
            None,
            n,
            "too few followed courses to weight",
            "no estimate",
        )
    x = imputation.covariates(frame, d.measures[0], d.time_point)
    x = imputation.informative(
        np.column_stack([x, imputation.practitioner_effect(frame, followed)])
    )
    import warnings

    with warnings.catch_warnings():  # separation shows in the effective sample size instead
        warnings.simplefilter("ignore")
        model = sm.GLM(followed, x, family=sm.families.Binomial()).fit()
    propensity = np.clip(model.predict(x), MIN_PROPENSITY, 1.0)
    seen = followed == 1
    weights = 1 / propensity[seen]
    y = success[seen]
    mean = float(np.sum(weights * y) / np.sum(weights))
    variance = float(np.sum(weights**2 * (y - mean) ** 2) / np.sum(weights) ** 2)
    ess = float(np.sum(weights) ** 2 / np.sum(weights**2))
    p = min(max(mean, 0.5 / (n + 1)), 1 - 0.5 / (n + 1))
    se_logit = math.sqrt(variance) / (p * (1 - p)) if variance > 0 else 0.0
    low, high = expit(logit(p) - 1.959964 * se_logit), expit(logit(p) + 1.959964 * se_logit)
    return Estimate(
        d.name,
        "ipw",
        mean,
        low,
        high,
        None,
        n,
        f"Hájek estimator, logistic model of follow-up, weights truncated at "
        f"{1 / MIN_PROPENSITY:.0f}, effective sample size {ess:.0f}; sandwich variance, "
        "logit scale",
        verdict(low, high, band),
    )


def estimand_table(
    table: Any,
    definition: str | Definition,
    *,
    claim_band: tuple[float, float] = CLAIM_BAND,
    imputations: int = 20,
    seed: int = 20261124,
    with_models: bool = True,
    completeness_warning: float = COMPLETENESS_WARNING,
) -> EstimandTable:
    """Every estimand of one definition over one cohort (a course table)."""
    d = parse(definition) if isinstance(definition, str) else definition
    frame = as_pandas(table)
    evaluation = evaluate(d, frame)
    simple = _simple(evaluation, claim_band, frame)
    estimates = [e for e, _ in simple]
    if with_models and evaluation.evaluable.any():
        estimates.append(
            multiple_imputation(d, frame, evaluation, m=imputations, seed=seed, band=claim_band)
        )
        estimates.append(ipw(d, frame, evaluation, band=claim_band))
    traced = double_sampling.estimate(d, frame, evaluation)
    if traced is not None:
        estimates.append(_double_sampling(d, traced, claim_band))
    counts = evaluation.counts()
    followed, n = counts["observed"], counts["evaluable"]
    share = followed / n if n else None
    evaluable = evaluation.evaluable
    clusters = (
        frame["practitioner_id"].to_numpy()[evaluable]
        if "practitioner_id" in frame.columns
        else np.zeros(n)
    )
    follow = clustered_proportion(evaluation.observed[evaluable].astype(float), clusters)
    completeness = {
        "followed": followed,
        "evaluable": n,
        "proportion": share,
        "ci_lb": follow.ci_lb,
        "ci_ub": follow.ci_ub,
        "time_point": d.time_point,
        "method": follow.method if "practitioner_id" in frame.columns else "Wilson 95% interval",
        "design_effect": follow.design_effect,
    }
    clustering = {
        "cluster": "practitioner",
        "clusters": follow.clusters,
        "design_effects": {
            **{e.estimand: c.design_effect for e, c in simple},
            "completeness": follow.design_effect,
        },
        "wilson": {
            **{e.estimand: [c.wilson_lb, c.wilson_ub] for e, c in simple},
            "completeness": [follow.wilson_lb, follow.wilson_ub],
        },
    }
    warnings = []
    if share is not None and share < completeness_warning:
        warnings.append(
            f"Follow-up completeness at {d.time_point} is {share:.0%} ({followed} of {n}), below "
            f"{completeness_warning:.0%}: the completers figure is not trustworthy."
        )
    excluded = {k: v for k, v in counts.items() if k.startswith("excluded")}
    if excluded:
        warnings.append(
            "Not evaluable: " + "; ".join(f"{k[10:]} ({v})" for k, v in excluded.items())
        )
    return EstimandTable(
        d.name,
        d.describe(),
        estimates,
        completeness,
        counts,
        claim_band,
        warnings,
        tracing=traced.as_dict() if traced is not None else None,
        clustering=clustering if "practitioner_id" in frame.columns else None,
    )


def _double_sampling(
    d: Definition, traced: double_sampling.DoubleSampling, band: tuple[float, float]
) -> Estimate:
    share = f"{traced.found_share:.0%}" if traced.found_share is not None else "-"
    undrawn = (
        f"; {traced.undrawn} non-responders in no tracing draw are left out"
        if traced.undrawn
        else ""
    )
    return Estimate(
        d.name,
        double_sampling.ESTIMAND,
        traced.estimate,
        traced.ci_lb,
        traced.ci_ub,
        None,
        traced.responders + traced.sampled,
        f"responders plus a traced random sample of non-responders weighted by 1/sampling "
        f"fraction (Frangakis & Rubin 2001); {traced.found} of {traced.sampled} traced found "
        f"({share}); if the traced not found had all failed: {traced.if_not_found_failed:.1%}; "
        f"linearised variance, logit scale{undrawn}",
        verdict(traced.ci_lb, traced.ci_ub, band),
    )

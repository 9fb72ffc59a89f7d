"""The latent outcome model and the questionnaire answers it produces, item by item.

Relative improvement of pain at day t after the first injection::

    imp(t) = natural · (1 − e^(−t/τn))
             + R · gain · (1 − e^(−t/τr)) · (1 − (1 − keep) · [t > recurrence])

``natural`` ~ N(μn, σn) is the improvement that comes without the injections (regression to the
mean, natural course, the control arms of the trials); R ~ Bernoulli(p) marks a true responder
with logit p = intercept + confirmation + adherence + practitioner effect + severity + duration.
Answers: NRS = round(baseline · (1 − imp) + noise); disability (ODI, or NDI for the neck) is a
latent percent turned into ten items 0–5 that sum to it; PGIC follows the perceived change.
Follow-up answers are then lost at random given covariates (MAR) and, when ``mnar`` is on, more
often for those who did not improve (MNAR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prolo.followup.schedule import DEFAULT
from prolo.synth.clinics import Clinics
from prolo.synth.params import Params
from prolo.synth.patients import Chunk

Array = np.ndarray[Any, Any]
FOLLOW_UPS = [p for p in DEFAULT.time_points if p.name != "baseline"]
POINTS = ["baseline", *(p.name for p in FOLLOW_UPS)]
NRS_TEXT = np.asarray([f"[{v}]" for v in range(11)], dtype=object)
ITEM_TEXT = np.asarray(["0", "1", "2", "3", "4", "5", '"missing"'], dtype=object)


@dataclass
class Outcomes:
    """Complete (pre-drop-out) values per course and time point, and what was observed."""

    evaluable: Array  # a baseline was collected
    nrs: Array  # (n, 6) int
    leg: Array
    disability: Array  # (n, 6) percent, as the complete items score
    pgic: Array  # (n, 6), 0 at baseline
    answered: Array  # (n, 6) bool: the patient answered at that time point
    responder: Array
    probability: Array
    day: Array  # (n, 6) day of each assessment


def logit_response(chunk: Chunk, clinics: Clinics, baseline_pain: Array, params: Params) -> Array:
    r = params["response"]
    confirmation = np.vectorize(lambda c: r["log_odds_confirmation"][c], otypes=[float])(
        chunk.confirmation
    )
    return np.asarray(
        r["intercept"]
        + confirmation
        + r["log_odds_session_adherence"] * (chunk.session_adherence - 1.0)
        + r["log_odds_followup_adherence"] * (chunk.followup_adherence - 0.6)
        + clinics.effect[chunk.practitioner]
        + r["log_odds_per_baseline_pain_point"] * (baseline_pain - 6)
        + r["log_odds_per_log_duration"] * np.log(chunk.duration_months / 24)
    )


def simulate(rng: np.random.Generator, chunk: Chunk, clinics: Clinics, params: Params) -> Outcomes:
    n = len(chunk.course_id)
    b = params["baseline"]
    imp_p = params["improvement"]
    pain0 = np.clip(np.round(rng.normal(b["pain_mean"], b["pain_sd"], n)), 0, 10)
    leg0 = np.clip(np.round(rng.normal(b["leg_mean"], b["leg_sd"], n)), 0, 10)
    dis0 = np.clip(
        rng.normal(
            b["disability_intercept"] + b["disability_per_pain"] * pain0, b["disability_sd"]
        ),
        4,
        92,
    )
    probability = 1 / (1 + np.exp(-logit_response(chunk, clinics, pain0, params)))
    responder = rng.random(n) < probability
    natural = rng.normal(imp_p["natural_mean"], imp_p["natural_sd"], n)
    gain = np.clip(rng.normal(imp_p["response_gain_mean"], imp_p["response_gain_sd"], n), 0, 1)
    rec = params["recurrence"]
    recurrence = 60 + rng.exponential(365 / rec["rate_per_year"], n)
    day = _days(rng, n, params)
    t = np.maximum(day, 0).astype(float)
    kept = np.where(t > recurrence[:, None], rec["gain_kept"], 1.0)
    improvement = (
        natural[:, None] * (1 - np.exp(-t / imp_p["natural_days"]))
        + (responder * gain)[:, None] * (1 - np.exp(-t / imp_p["response_days"])) * kept
    )
    improvement = np.minimum(improvement, 1.0)
    improvement[:, 0] = 0.0
    noise = rng.normal(0, imp_p["nrs_noise_sd"], (n, 6))
    noise[:, 0] = 0
    nrs = np.clip(np.round(pain0[:, None] * (1 - improvement) + noise), 0, 10).astype(int)
    leg = np.clip(np.round(leg0[:, None] * (1 - 0.8 * improvement) + noise), 0, 10).astype(int)
    person = rng.normal(0, imp_p["disability_person_sd"], n)
    imp_d = imp_p["disability_ratio"] * improvement + person[:, None] * (improvement != 0)
    latent = dis0[:, None] * (1 - imp_d) + rng.normal(0, imp_p["disability_noise_sd"], (n, 6))
    latent[:, 0] = dis0
    disability_sum = np.clip(np.round(latent / 2), 0, 50).astype(int)
    perceived = improvement + rng.normal(0, imp_p["pgic_noise_sd"], (n, 6))
    pgic = 7 - np.searchsorted([-0.5, -0.25, -0.1, 0.15, 0.4, 0.6], perceived, side="right")
    pgic[:, 0] = 0
    evaluable = rng.random(n) >= b["missing_share"]
    felt = 1 - nrs / np.maximum(pain0, 1)[:, None]  # the change the patient would report
    answered = _answered(rng, chunk, felt, evaluable, params)
    chunk.tables["recurrences"] = _recurrences(rng, chunk, responder, recurrence, params)
    return Outcomes(
        evaluable, nrs, leg, disability_sum * 2.0, pgic, answered, responder, probability, day
    )


def _days(rng: np.random.Generator, n: int, params: Params) -> Array:
    f = params["follow_up"]
    day = np.empty((n, 6), dtype=int)
    day[:, 0] = -rng.integers(0, 15, n)
    for k, point in enumerate(FOLLOW_UPS, start=1):
        jitter = np.round(rng.normal(0, f["jitter_sd_days"][point.name], n)).astype(int)
        day[:, k] = np.clip(point.target + jitter, point.start, point.end)
    return day


def _answered(
    rng: np.random.Generator, chunk: Chunk, improvement: Array, evaluable: Array, params: Params
) -> Array:
    """Who answers each follow-up: covariates (MAR) and, if ``mnar``, their own outcome (the
    relative pain relief they would report at that time point)."""
    f = params["follow_up"]
    n = len(evaluable)
    propensity = (
        rng.normal(0, f["patient_sd"], n) + f["log_odds_per_decade_of_age"] * (chunk.age - 50) / 10
    )
    answered = np.zeros((n, 6), dtype=bool)
    answered[:, 0] = evaluable
    for k, point in enumerate(FOLLOW_UPS, start=1):
        logit = f["intercept"][point.name] + propensity
        if f["mnar"]:
            logit = logit + f["mnar_log_odds_per_improvement"] * (
                improvement[:, k] - f["mnar_centre"]
            )
        answered[:, k] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return answered


def _recurrences(
    rng: np.random.Generator, chunk: Chunk, responder: Array, day: Array, params: Params
) -> pd.DataFrame:
    as_of = np.datetime64(params["as_of"], "D")
    date = chunk.index_day + np.round(day).astype(int)
    keep = responder & (day < 730) & (date <= as_of)
    m = int(keep.sum())
    return pd.DataFrame(
        {
            "course_id": chunk.course_id[keep],
            "kind": np.where(
                rng.random(m) < params["recurrence"]["reinjury_share"], "reinjury", "recurrence"
            ),
            "event_date": pd.Series(date[keep].astype("datetime64[ns]")),
        }
    )


def _disability_items(rng: np.random.Generator, total: Array, missing_share: float) -> Array:
    """Ten answers 0–5 summing to ``total`` (spread at random), some coded missing (6)."""
    m = len(total)
    base = total // 10
    extra = total - base * 10
    order = rng.random((m, 10)).argsort(axis=1).argsort(axis=1)
    items = base[:, None] + (order < extra[:, None])
    shift = rng.integers(0, 10, m)
    donor, taker = order == shift[:, None], order == ((shift + 1) % 10)[:, None]
    movable = (items[donor] > 0) & (items[taker] < 5)
    items[donor] -= movable
    items[taker] += movable
    items[rng.random((m, 10)) < missing_share] = 6
    return np.asarray(items)


def assessment_rows(
    rng: np.random.Generator, chunk: Chunk, out: Outcomes, params: Params
) -> pd.DataFrame:
    """The observed questionnaires as import rows (items as JSON text), one per instrument."""
    rows_c, rows_k = np.nonzero(out.answered)
    cervical = chunk.region[rows_c] == "cervical"
    date = chunk.index_day[rows_c] + out.day[rows_c, rows_k]
    frames: list[tuple[Any, Array, Array, Array, Array]] = [
        ("NRS", rows_c, rows_k, date, NRS_TEXT[out.nrs[rows_c, rows_k]]),
        ("NRS_LEG", rows_c, rows_k, date, NRS_TEXT[out.leg[rows_c, rows_k]]),
    ]
    total = (out.disability[rows_c, rows_k] / 2).astype(int)
    items = _disability_items(rng, total, params["follow_up"]["item_missing_share"])
    text = np.asarray(
        ["[" + ",".join(row) + "]" for row in ITEM_TEXT[items].tolist()], dtype=object
    )
    frames.append((np.where(cervical, "NDI", "ODI"), rows_c, rows_k, date, text))
    f = rows_k > 0
    pgic = NRS_TEXT[out.pgic[rows_c[f], rows_k[f]]]
    frames.append(("PGIC", rows_c[f], rows_k[f], date[f], pgic))
    parts = [
        pd.DataFrame(
            {
                "patient_id": chunk.patient_id[c],
                "course_id": chunk.course_id[c],
                "instrument": instrument,
                "assessed_on": pd.Series(d.astype("datetime64[ns]")),
                "source": np.where(k == 0, "clinic", "patient_link"),
                "items": t,
            }
        )
        for instrument, c, k, d, t in frames
    ]
    return pd.concat(parts, ignore_index=True).sort_values(
        ["course_id", "assessed_on", "instrument"], kind="stable", ignore_index=True
    )


WORK = ["working_full", "working_reduced", "sick_leave", "unemployed", "retired", "disability"]


def work_statuses(rng: np.random.Generator, chunk: Chunk, out: Outcomes) -> pd.DataFrame:
    """Work status at the first visit and, for those who answer then, at 12 months: people
    who improved by half or more return to work more often."""
    n = len(chunk.course_id)
    first = np.asarray(WORK)[rng.choice(6, n, p=[0.45, 0.18, 0.17, 0.06, 0.08, 0.06])]
    k = POINTS.index("12m")
    later = out.answered[:, k]
    improved = out.nrs[:, k] <= out.nrs[:, 0] * 0.5
    back = later & np.isin(first, ["sick_leave", "working_reduced"]) & improved
    back &= rng.random(n) < 0.6
    second = np.where(back, "working_full", first)
    course = np.concatenate([chunk.course_id, chunk.course_id[later]])
    day = np.concatenate(
        [chunk.index_day + out.day[:, 0], (chunk.index_day + out.day[:, k])[later]]
    )
    return pd.DataFrame(
        {
            "patient_id": np.concatenate([chunk.patient_id, chunk.patient_id[later]]),
            "course_id": course,
            "recorded_on": pd.Series(day.astype("datetime64[ns]")),
            "status": np.concatenate([first, second[later]]),
        }
    )

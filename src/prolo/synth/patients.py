"""One chunk of patients: demographics, condition, prior care, the course and its sessions,
follow-up therapy and adverse events. One condition and one course per patient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prolo.synth.clinics import Clinics
from prolo.synth.params import Params

Array = np.ndarray[Any, Any]
ICD10 = {
    "lumbar": ["M54.50", "M54.59", "M53.2X6", "S33.5", "M47.816"],
    "sacroiliac_pelvic": ["M46.1", "S33.6", "M53.3"],
    "cervical": ["M54.2", "M53.2X2", "S13.4", "M47.812"],
    "thoracic": ["M54.6"],
}
TARGETS = {
    "lumbar": [
        '[{"target": "iliolumbar_ligament", "levels": [], "side": "bilateral"}, '
        '{"target": "interspinous_ligament", "levels": ["L4-L5", "L5-S1"], "side": "midline"}]',
        '[{"target": "supraspinous_ligament", "levels": ["L3-L4", "L4-L5"], "side": "midline"}, '
        '{"target": "thoracolumbar_fascia", "levels": [], "side": "bilateral"}]',
        '[{"target": "lumbar_facet_capsule", "levels": ["L4-L5"], "side": "bilateral"}]',
    ],
    "sacroiliac_pelvic": [
        '[{"target": "long_posterior_sacroiliac_ligament", "levels": [], "side": "bilateral"}, '
        '{"target": "short_posterior_sacroiliac_ligament", "levels": [], "side": "bilateral"}]',
        '[{"target": "sacrotuberous_ligament", "levels": [], "side": "left"}, '
        '{"target": "sacrospinous_ligament", "levels": [], "side": "left"}]',
    ],
    "cervical": [
        '[{"target": "nuchal_ligament", "levels": [], "side": "midline"}, '
        '{"target": "cervical_facet_capsule", "levels": ["C5-C6"], "side": "bilateral"}]',
        '[{"target": "interspinous_ligament", "levels": ["C4-C5", "C5-C6"], "side": "midline"}]',
    ],
    "thoracic": [
        '[{"target": "supraspinous_ligament", "levels": ["T6-T7", "T7-T8"], "side": "midline"}]',
    ],
}
PRIOR_TYPES = [
    "physical_therapy",
    "exercise",
    "nsaid",
    "analgesic",
    "manipulation",
    "epidural_steroid",
    "facet_injection",
    "acupuncture",
    "rest",
]


@dataclass
class Chunk:
    """Tables of the chunk and the covariates the outcome model needs (one per course)."""

    tables: dict[str, pd.DataFrame]
    patient_id: Array
    course_id: Array
    practitioner: Array  # index into the clinics' practitioners
    region: Array
    confirmation: Array
    age: Array
    duration_months: Array
    session_adherence: Array
    followup_adherence: Array
    index_day: Array  # datetime64[D]
    sex: Array


def _choice(rng: np.random.Generator, shares: dict[str, float], n: int) -> Array:
    keys = list(shares)
    weights = np.array([shares[k] for k in keys], dtype=float)
    return np.asarray(keys)[rng.choice(len(keys), n, p=weights / weights.sum())]


def _days(values: Array) -> pd.Series:
    return pd.Series(values.astype("datetime64[ns]"))


def generate(
    rng: np.random.Generator, n: int, clinics: Clinics, params: Params, ids: dict[str, int]
) -> Chunk:
    as_of = np.datetime64(params["as_of"], "D")
    patient_id = ids["patients"] + np.arange(n)
    site = rng.choice(len(clinics.site_ids), n, p=clinics.site_weights)
    pick = clinics.roster_start[site] + (rng.random(n) * clinics.roster_count[site]).astype(int)
    practitioner = clinics.roster[pick]
    index_day = as_of - 760 - rng.integers(0, 4 * 365, n)
    p = params["patient"]
    age = np.clip(rng.normal(p["age_mean"], p["age_sd"], n), 18, 88)
    birth = index_day - (age * 365.25).astype(int)
    female, other = p["female_share"], p["other_sex_share"]
    sex = np.asarray(["female", "male", "other"])[
        rng.choice(3, n, p=[female, 1 - female - other, other])
    ]
    consent = index_day - rng.integers(1, 60, n)
    tables: dict[str, pd.DataFrame] = {
        "patients": pd.DataFrame(
            {
                "id": patient_id,
                "site_id": clinics.site_ids[site],
                "external_id": [f"SYN{i:09d}" for i in patient_id],
                "birth_date": _days(birth),
                "sex": sex,
                "consent_status": "given",
                "consent_date": _days(consent),
            }
        )
    }
    region = _choice(rng, params["region_shares"], n)
    confirmation = _choice(rng, params["confirmation_shares"], n)
    d = params["duration_months"]
    duration = np.maximum(rng.lognormal(np.log(d["median"]), d["log_sd"], n), d["minimum"])
    onset = np.maximum(index_day - np.round(duration * 30.4375).astype(int), birth + 16 * 365)
    duration = (index_day - onset).astype(int) / 30.4375
    icd = np.empty(n, dtype=object)
    for name, codes in ICD10.items():
        rows = region == name
        icd[rows] = np.asarray(codes)[rng.integers(0, len(codes), rows.sum())]
    condition_id = ids["conditions"] + np.arange(n)
    tables["conditions"] = pd.DataFrame(
        {
            "id": condition_id,
            "patient_id": patient_id,
            "icd10_code": icd,
            "region": region,
            "onset_date": _days(onset),
            "diagnosis_confirmation": confirmation,
        }
    )
    tables["prior_treatments"] = _prior(
        rng, patient_id, condition_id, onset, index_day, params, ids
    )
    course_id = ids["treatment_courses"] + np.arange(n)
    sessions, adherence = _course_and_sessions(
        rng,
        tables,
        course_id,
        patient_id,
        condition_id,
        practitioner,
        clinics,
        region,
        index_day,
        params,
        ids,
    )
    followup = _followup_therapy(rng, tables, course_id, index_day, as_of, params, ids)
    tables["adverse_events"] = _adverse_events(rng, sessions, params, ids)
    return Chunk(
        tables,
        patient_id,
        course_id,
        practitioner,
        region,
        confirmation,
        age,
        duration,
        adherence,
        followup,
        index_day,
        sex,
    )


def _prior(
    rng: np.random.Generator,
    patient_id: Array,
    condition_id: Array,
    onset: Array,
    index_day: Array,
    params: Params,
    ids: dict[str, int],
) -> pd.DataFrame:
    per = rng.integers(1, 4, len(patient_id))
    owner = np.repeat(np.arange(len(patient_id)), per)
    first = np.concatenate([[True], owner[1:] != owner[:-1]])
    m = len(owner)
    span = np.maximum((index_day - onset).astype(int)[owner] - 1, 1)
    start = onset[owner] + (rng.random(m) * span * 0.7).astype(int)
    end = np.minimum(start + rng.integers(20, 120, m), index_day[owner] - 1)
    end = np.maximum(end, start)
    c = params["prior_care"]
    kind = np.asarray(PRIOR_TYPES)[rng.integers(0, len(PRIOR_TYPES), m)]
    kind[rng.random(m) < c["surgery_share"]] = "surgery"
    result = np.where(
        rng.random(m) < c["failed_share"],
        "failed",
        np.asarray(["partial", "unknown", "success"])[rng.integers(0, 3, m)],
    )
    result[~first & (rng.random(m) < 0.4)] = "partial"
    return pd.DataFrame(
        {
            "id": ids["prior_treatments"] + np.arange(m),
            "patient_id": patient_id[owner],
            "condition_id": condition_id[owner],
            "treatment_type": kind,
            "start_date": _days(start),
            "end_date": _days(end),
            "result": result,
        }
    )


def _course_and_sessions(
    rng: np.random.Generator,
    tables: dict[str, pd.DataFrame],
    course_id: Array,
    patient_id: Array,
    condition_id: Array,
    practitioner: Array,
    clinics: Clinics,
    region: Array,
    index_day: Array,
    params: Params,
    ids: dict[str, int],
) -> tuple[pd.DataFrame, Array]:
    n = len(course_id)
    c = params["course"]
    planned = rng.choice(c["planned_sessions"], n)
    partial = np.floor(rng.random(n) * (planned - 1)).astype(int) + 1
    done = np.where(rng.random(n) < c["complete_share"], planned, partial)
    interval = rng.choice(c["interval_days"], n)
    owner = np.repeat(np.arange(n), done)
    number = np.arange(len(owner)) - np.repeat(np.cumsum(done) - done, done)
    jitter = np.where(number > 0, rng.integers(-2, 3, len(owner)), 0)
    day = index_day[owner] + number * interval[owner] + jitter
    last = np.maximum.reduceat(day, np.cumsum(done) - done)
    prac_ids = clinics.practitioner_ids[practitioner]
    stopped = done < planned
    tables["treatment_courses"] = pd.DataFrame(
        {
            "id": course_id,
            "patient_id": patient_id,
            "condition_id": condition_id,
            "practitioner_id": prac_ids,
            "start_date": _days(index_day),
            "end_date": _days(last),
            "planned_sessions": planned,
            "status": np.where(stopped, "stopped", "completed"),
            "stop_reason": pd.Series(["patient stopped attending"] * n).where(stopped, None),
        }
    )
    m = len(owner)
    agent = np.asarray(["dextrose", "phenol_glycerine_glucose", "prp"])[
        rng.choice(3, n, p=[0.9, 0.06, 0.04])
    ][owner]
    concentration = np.where(
        agent == "dextrose",
        rng.choice([10.0, 12.5, 15.0, 20.0, 25.0], m),
        np.where(agent == "phenol_glycerine_glucose", 12.5, np.nan),
    )
    spine = np.isin(region[owner], ["cervical", "thoracic"])
    volume = np.round(np.where(spine, rng.uniform(5, 15, m), rng.uniform(10, 30, m)) * 2) / 2
    targets = np.empty(m, dtype=object)
    for name, options in TARGETS.items():
        rows = region[owner] == name
        targets[rows] = np.asarray(options, dtype=object)[rng.integers(0, len(options), rows.sum())]
    sessions = pd.DataFrame(
        {
            "id": ids["injection_sessions"] + np.arange(m),
            "course_id": course_id[owner],
            "practitioner_id": prac_ids[owner],
            "session_date": _days(day),
            "agent": agent,
            "concentration_percent": concentration,
            "anesthetic": np.asarray(["lidocaine", "procaine", "none"])[
                rng.choice(3, m, p=[0.88, 0.07, 0.05])
            ],
            "total_volume_ml": volume,
            "injection_count": rng.integers(6, 31, m),
            "guidance": np.asarray(["landmark", "ultrasound", "fluoroscopy"])[
                rng.choice(3, m, p=[0.7, 0.25, 0.05])
            ],
            "targets": targets,
        }
    )
    tables["injection_sessions"] = sessions
    return sessions, done / planned


def _followup_therapy(
    rng: np.random.Generator,
    tables: dict[str, pd.DataFrame],
    course_id: Array,
    index_day: Array,
    as_of: np.datetime64,
    params: Params,
    ids: dict[str, int],
) -> Array:
    """An exercise programme for most courses, with the patient's adherence (0 when none)."""
    c = params["course"]
    n = len(course_id)
    has = rng.random(n) < c["followup_therapy_share"]
    mean, k = c["followup_adherence_mean"], c["followup_adherence_concentration"]
    adherence = np.where(has, np.round(rng.beta(mean * k, (1 - mean) * k, n) * 100, 1), 0.0)
    start = index_day + 7
    end = np.minimum(start + rng.integers(60, 180, n), as_of)
    tables["co_interventions"] = pd.DataFrame(
        {
            "id": ids["co_interventions"] + np.arange(int(has.sum())),
            "course_id": course_id[has],
            "intervention_type": rng.choice(
                ["exercise_programme", "physical_therapy"], int(has.sum())
            ),
            "start_date": _days(start[has]),
            "end_date": _days(end[has]),
            "adherence_percent": adherence[has],
        }
    )
    return adherence / 100


def _adverse_events(
    rng: np.random.Generator, sessions: pd.DataFrame, params: Params, ids: dict[str, int]
) -> pd.DataFrame:
    a = params["adverse_events"]
    kinds = list(a["per_session"])
    edges = np.cumsum([a["per_session"][k] for k in kinds])
    draw = rng.random(len(sessions))
    which = np.searchsorted(edges, draw, side="right")
    hit = which < len(kinds)
    kind = np.asarray(kinds)[which[hit]]
    m = int(hit.sum())
    grade = np.asarray([a["grade"][k] for k in kind], dtype=int) + (
        rng.random(m) < a["grade_up_share"]
    )
    onset = sessions["session_date"].to_numpy()[hit].astype("datetime64[D]") + rng.integers(0, 2, m)
    resolution = onset + rng.integers(1, 8, m)
    return pd.DataFrame(
        {
            "id": ids["adverse_events"] + np.arange(m),
            "course_id": sessions["course_id"].to_numpy()[hit],
            "session_id": sessions["id"].to_numpy()[hit],
            "event_type": kind,
            "grade": grade,
            "serious": grade >= 3,
            "onset_date": _days(onset),
            "resolution_date": _days(resolution),
        }
    )

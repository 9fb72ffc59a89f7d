"""Small course tables with known truth, for testing the estimands (seeded, pure NumPy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Simulated:
    table: pd.DataFrame
    true_rate: float  # pain50@6m among all evaluable courses, from complete data
    completers_rate: float
    complete_6m: np.ndarray | None = None  # the 6-month score before drop-out


def expit(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def simulate(n: int, seed: int, *, dropout: str = "mar", practitioners: int = 40) -> Simulated:
    """Courses whose 6-month pain depends on diagnosis, adherence and practitioner skill; the
    6-month answer goes missing at random given covariates ("mar") or because the patient did
    not respond ("mnar")."""
    rng = np.random.default_rng(seed)
    practitioner = rng.integers(0, practitioners, n)
    skill = rng.normal(0, 0.6, practitioners)[practitioner]
    block = rng.random(n) < 0.45
    planned = rng.integers(3, 7, n)
    done = np.minimum(planned, rng.binomial(planned, 0.8))
    adherence = done / planned
    age = rng.normal(50, 12, n)
    base = rng.integers(4, 11, n).astype(float)
    respond = rng.random(n) < expit(-1.2 + 2.2 * block + 3.0 * (adherence - 0.8) + skill)
    ratio = np.where(respond, rng.uniform(0.0, 0.5, n), rng.uniform(0.45, 1.1, n))
    follow = np.clip(np.round(base * ratio + rng.normal(0, 0.4, n)), 0, 10)
    early = np.clip(np.round(base * (0.5 + 0.5 * ratio) + rng.normal(0, 0.7, n)), 0, 10)
    truth = (base - follow) / base >= 0.5
    if dropout == "mar":
        p_obs = expit(
            0.6 + 1.2 * block + 2.0 * (adherence - 0.8) - 0.25 * (base - 7) + 0.02 * (age - 50)
        )
    else:
        p_obs = np.where(truth, 0.92, 0.25)
    observed = rng.random(n) < p_obs
    early_seen = rng.random(n) < 0.8
    table = pd.DataFrame(
        {
            "course_id": np.arange(n),
            "patient_id": np.arange(n),
            "site_id": practitioner % 4,
            "practitioner_id": practitioner,
            "region": "lumbar",
            "age": age,
            "sex": np.where(rng.random(n) < 0.55, "female", "male"),
            "diagnosis_confirmation": np.where(block, "anesthetic_block", "palpation_provocation"),
            "duration_months": rng.gamma(3, 8, n),
            "planned_sessions": planned,
            "sessions_done": done,
            "followup_therapy_adherence": np.nan,
            "practitioner_years": 10,
            "practitioner_trained": True,
            "practitioner_prior_procedures": 100,
            "nrs_back_baseline": base,
            "nrs_back_3m": np.where(early_seen, early, np.nan),
            "nrs_back_6m": np.where(observed, follow, np.nan),
        }
    )
    return Simulated(table, float(truth.mean()), float(truth[observed].mean()), follow)

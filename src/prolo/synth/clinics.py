"""Sites, practitioners, where they work and their training — with each practitioner's true
skill (a random effect on the log-odds of response) kept for the truth file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prolo.synth.params import Params

DEGREES = (["MD", "DO", "other"], [0.7, 0.26, 0.04])
SPECIALTIES = (
    [
        "pmr",
        "anesthesiology_pain",
        "orthopedic_surgery",
        "neurosurgery",
        "sports_medicine",
        "family_medicine",
        "other",
    ],
    [0.3, 0.2, 0.12, 0.03, 0.15, 0.15, 0.05],
)
ORGANIZATIONS = (["AAOM", "AAS", "other"], [0.55, 0.3, 0.15])


@dataclass
class Clinics:
    tables: dict[str, pd.DataFrame]
    site_ids: np.ndarray[Any, Any]
    site_weights: np.ndarray[Any, Any]
    # Practitioners working at each site: a flat array ordered by site, with offsets.
    roster: np.ndarray[Any, Any]
    roster_start: np.ndarray[Any, Any]
    roster_count: np.ndarray[Any, Any]
    practitioner_ids: np.ndarray[Any, Any]
    effect: np.ndarray[Any, Any]  # each practitioner's log-odds effect on response
    skill: np.ndarray[Any, Any]  # the random part of it
    trained: np.ndarray[Any, Any]


def n_sites(patients: int, params: Params) -> int:
    c = params["clinics"]
    return int(np.clip(round(patients / c["patients_per_site"]), c["min_sites"], c["max_sites"]))


def generate(patients: int, seed: int, params: Params, first_id: dict[str, int]) -> Clinics:
    rng = np.random.default_rng([seed, 0])
    as_of = pd.Timestamp(params["as_of"])
    sites = n_sites(patients, params)
    site_ids = first_id["sites"] + np.arange(sites)
    per = params["clinics"]["practitioners_per_site"]
    count = sites * per
    prac_ids = first_id["practitioners"] + np.arange(count)
    home = np.repeat(np.arange(sites), per)
    p = params["practitioner"]
    prior = np.round(rng.lognormal(np.log(p["prior_procedures_median"]), 1.0, count)).astype(int)
    practitioners = pd.DataFrame(
        {
            "id": prac_ids,
            "name": [f"Dr Synthetic {i:05d}" for i in prac_ids],
            "degree": rng.choice(DEGREES[0], count, p=DEGREES[1]),
            "specialty": rng.choice(SPECIALTIES[0], count, p=SPECIALTIES[1]),
            "years_in_practice": rng.integers(2, 36, count),
            "prior_prolotherapy_procedures": np.minimum(prior, 1_000_000),
        }
    )
    links = _links(rng, home, sites, prac_ids, site_ids, params, first_id)
    training, trained = _training(rng, prac_ids, as_of, p, first_id)
    skill = rng.normal(0.0, p["skill_sd"], count)
    experience = np.log1p(prior) - np.log1p(p["prior_procedures_median"])
    effect = (
        skill
        + p["log_odds_verified_training"] * trained
        + p["log_odds_per_log_prior_procedures"] * experience
    )
    by_site = links.sort_values(["site_id", "practitioner_id"])
    site_index = by_site["site_id"].to_numpy() - first_id["sites"]
    roster_count = np.bincount(site_index, minlength=sites)
    tables = {
        "sites": pd.DataFrame(
            {
                "id": site_ids,
                "code": [f"SYN{i:04d}" for i in site_ids],
                "name": [f"Synthetic spine clinic {i}" for i in site_ids],
            }
        ),
        "practitioners": practitioners,
        "practitioner_sites": links,
        "training_records": training,
    }
    return Clinics(
        tables=tables,
        site_ids=site_ids,
        site_weights=rng.dirichlet(np.full(sites, 4.0)),
        roster=by_site["practitioner_id"].to_numpy() - first_id["practitioners"],
        roster_start=np.concatenate([[0], np.cumsum(roster_count)[:-1]]),
        roster_count=roster_count,
        practitioner_ids=prac_ids,
        effect=effect,
        skill=skill,
        trained=trained,
    )


def _links(
    rng: np.random.Generator,
    home: np.ndarray[Any, Any],
    sites: int,
    prac_ids: np.ndarray[Any, Any],
    site_ids: np.ndarray[Any, Any],
    params: Params,
    first_id: dict[str, int],
) -> pd.DataFrame:
    second = rng.random(len(home)) < params["clinics"]["second_site_share"]
    other = (home + rng.integers(1, max(sites, 2), len(home))) % sites
    second &= other != home
    practitioner = np.concatenate([prac_ids, prac_ids[second]])
    site = np.concatenate([site_ids[home], site_ids[other[second]]])
    return pd.DataFrame(
        {
            "id": first_id["practitioner_sites"] + np.arange(len(practitioner)),
            "practitioner_id": practitioner,
            "site_id": site,
        }
    )


def _training(
    rng: np.random.Generator,
    prac_ids: np.ndarray[Any, Any],
    as_of: pd.Timestamp,
    p: Params,
    first_id: dict[str, int],
) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    per = rng.integers(1, 4, len(prac_ids))
    owner = np.repeat(np.arange(len(prac_ids)), per)
    n = len(owner)
    organization = rng.choice(ORGANIZATIONS[0], n, p=ORGANIZATIONS[1])
    verified = rng.random(n) < p["verified_training_share"]
    days_ago = rng.integers(200, 5000, n)
    completed = [(as_of - dt.timedelta(days=int(d))).date() for d in days_ago]
    frame = pd.DataFrame(
        {
            "id": first_id["training_records"] + np.arange(n),
            "practitioner_id": prac_ids[owner],
            "organization": organization,
            "organization_other": pd.Series(
                ["Hackett-Hemwall-Patterson Foundation"] * n, dtype=object
            ).where(organization == "other", None),
            "course": [f"Prolotherapy of the spine, part {k}" for k in rng.integers(1, 4, n)],
            "completed_on": pd.to_datetime(completed),
            "hours": rng.choice([8.0, 16.0, 24.0, 40.0], n),
            "certificate_id": pd.Series([f"CERT-{i:07d}" for i in range(n)], dtype=object).where(
                verified, None
            ),
            "verified": verified,
        }
    )
    trained = np.bincount(owner, weights=verified, minlength=len(prac_ids)) > 0
    return frame, trained.astype(float)

"""The known truth of a synthetic registry, accumulated chunk by chunk.

``success_rate[name]`` is the proportion of successes among **all evaluable courses** (a
baseline was collected), computed from the complete outcomes before any follow-up was lost,
with the definitions of DESIGN §5: relative change = (follow-up − baseline) ÷ baseline and
needs a baseline above zero (courses with a zero baseline are counted in ``excluded``).
``completers`` gives the same definitions among those who answered — what an anecdotal,
completers-only report would show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from prolo.synth.clinics import Clinics
from prolo.synth.outcomes import POINTS, Outcomes
from prolo.synth.params import Params
from prolo.synth.patients import Chunk

Array = np.ndarray[Any, Any]
TIME_POINTS = ("3m", "6m", "12m", "24m")
# name -> (eligible, success) given baseline and follow-up values
Definition = Callable[[Chunk, Outcomes, int], tuple[Array, Array]]


def _relative(base: Array, later: Array) -> Array:
    safe = np.where(base > 0, base, 1)
    return np.asarray((later - base) / safe)


def _pain(threshold: float) -> Definition:
    def rule(chunk: Chunk, out: Outcomes, k: int) -> tuple[Array, Array]:
        base = out.nrs[:, 0]
        return base > 0, _relative(base, out.nrs[:, k]) <= -threshold

    return rule


def _disability(regions: str, relative: float | None, points: float | None) -> Definition:
    def rule(chunk: Chunk, out: Outcomes, k: int) -> tuple[Array, Array]:
        neck = chunk.region == "cervical"
        region = neck if regions == "neck" else ~neck
        base, later = out.disability[:, 0], out.disability[:, k]
        if relative is not None:
            return region & (base > 0), _relative(base, later) <= -relative
        assert points is not None
        return region, later - base <= -points

    return rule


def _composite(chunk: Chunk, out: Outcomes, k: int) -> tuple[Array, Array]:
    pain_ok, pain = _pain(0.3)(chunk, out, k)
    base = out.disability[:, 0]
    disability = _relative(base, out.disability[:, k]) <= -0.3
    return pain_ok & (base > 0), pain & disability


def _pgic(chunk: Chunk, out: Outcomes, k: int) -> tuple[Array, Array]:
    return np.ones(len(chunk.course_id), dtype=bool), out.pgic[:, k] <= 2


DEFINITIONS: dict[str, Definition] = {
    "pain50": _pain(0.5),
    "pain30": _pain(0.3),
    "odi30": _disability("back", 0.3, None),
    "odi10pt": _disability("back", None, 10),
    "ndi30": _disability("neck", 0.3, None),
    "composite": _composite,
    "pgic": _pgic,
}


class Truth:
    def __init__(self, clinics: Clinics, params: Params, seed: int, patients: int) -> None:
        self.clinics, self.params, self.seed, self.patients = clinics, params, seed, patients
        self.counts: dict[str, np.ndarray[Any, Any]] = {}  # [successes, evaluable, excluded,
        # completer successes, completers]
        count = len(clinics.practitioner_ids)
        self.by_practitioner = np.zeros((count, 4))  # courses, evaluable, successes, Σp
        self.courses = 0
        self.responders = 0
        self.probability = 0.0
        self.answered = np.zeros(len(POINTS))
        self.evaluable = 0

    def add(self, chunk: Chunk, out: Outcomes) -> None:
        evaluable = out.evaluable
        self.courses += len(evaluable)
        self.evaluable += int(evaluable.sum())
        self.responders += int(out.responder.sum())
        self.probability += float(out.probability.sum())
        self.answered += (out.answered & evaluable[:, None]).sum(axis=0)
        for name, rule in DEFINITIONS.items():
            for point in TIME_POINTS:
                k = POINTS.index(point)
                eligible, success = rule(chunk, out, k)
                in_scope = evaluable & (eligible | _in_region(name, chunk))
                ok = evaluable & eligible
                seen = ok & out.answered[:, k]
                row = np.array(
                    [
                        (ok & success).sum(),
                        ok.sum(),
                        (in_scope & ~eligible).sum(),
                        (seen & success).sum(),
                        seen.sum(),
                    ]
                )
                key = f"{name}@{point}"
                self.counts[key] = self.counts.get(key, 0) + row
        eligible, success = DEFINITIONS["pain50"](chunk, out, POINTS.index("6m"))
        ok = evaluable & eligible
        p = chunk.practitioner
        self.by_practitioner[:, 0] += np.bincount(p, minlength=len(self.by_practitioner))
        self.by_practitioner[:, 1] += np.bincount(p, ok, len(self.by_practitioner))
        self.by_practitioner[:, 2] += np.bincount(p, ok & success, len(self.by_practitioner))
        self.by_practitioner[:, 3] += np.bincount(p, out.probability, len(self.by_practitioner))

    def as_dict(self) -> dict[str, Any]:
        def rate(a: float, b: float) -> float | None:
            return float(a / b) if b else None

        r = self.params["response"]
        c = self.clinics
        return {
            "seed": self.seed,
            "patients": self.patients,
            "courses": self.courses,
            "evaluable_courses": self.evaluable,
            "mnar": bool(self.params["follow_up"]["mnar"]),
            "success_rate": {k: rate(v[0], v[1]) for k, v in self.counts.items()},
            "evaluable": {k: int(v[1]) for k, v in self.counts.items()},
            "excluded_baseline_zero": {k: int(v[2]) for k, v in self.counts.items()},
            "completers": {
                k: {"rate": rate(v[3], v[4]), "n": int(v[4])} for k, v in self.counts.items()
            },
            "follow_up_completeness": {
                point: rate(self.answered[i], self.evaluable) for i, point in enumerate(POINTS)
            },
            "responder_share": rate(self.responders, self.courses),
            "response_probability_mean": rate(self.probability, self.courses),
            "effects": _effects(r, self.params),
            "practitioners": [
                {
                    "id": int(c.practitioner_ids[i]),
                    "skill_log_odds": float(c.skill[i]),
                    "effect_log_odds": float(c.effect[i]),
                    "verified_training": bool(c.trained[i]),
                    "courses": int(row[0]),
                    "evaluable": int(row[1]),
                    "success_rate_pain50@6m": rate(row[2], row[1]),
                    "response_probability": rate(row[3], row[0]),
                }
                for i, row in enumerate(self.by_practitioner)
            ],
            "params": self.params,
        }


def _in_region(name: str, chunk: Chunk) -> Array:
    if name in ("odi30", "odi10pt"):
        return np.asarray(chunk.region != "cervical")
    if name == "ndi30":
        return np.asarray(chunk.region == "cervical")
    return np.ones(len(chunk.region), dtype=bool)


def _effects(r: Params, params: Params) -> dict[str, Any]:
    log_odds = {
        **{f"confirmation={k}": v for k, v in r["log_odds_confirmation"].items()},
        "session_adherence (per whole course, 0→1)": r["log_odds_session_adherence"],
        "followup_therapy_adherence (per 100%)": r["log_odds_followup_adherence"],
        "baseline_pain (per NRS point)": r["log_odds_per_baseline_pain_point"],
        "duration (per log month)": r["log_odds_per_log_duration"],
        "practitioner_verified_training": params["practitioner"]["log_odds_verified_training"],
        "practitioner_prior_procedures (per log)": params["practitioner"][
            "log_odds_per_log_prior_procedures"
        ],
    }
    return {
        "scale": "log-odds of being a true responder (see docs/synth.md)",
        "intercept": r["intercept"],
        "log_odds": log_odds,
        "odds_ratios": {k: float(np.exp(v)) for k, v in log_odds.items()},
        "practitioner_skill_sd": params["practitioner"]["skill_sd"],
        "natural_improvement_mean": params["improvement"]["natural_mean"],
    }

"""Simulated tracing of missed questionnaires (double sampling, DESIGN §5).

For each follow-up time point, a random sample of a fraction ``tracing.fraction`` of the courses
whose questionnaire was missed is drawn (a simple random sample within each chunk; its
probability is the chunk's sampled ÷ eligible), and a share ``tracing.found`` of them is found
— independently of the outcome, the one assumption of the estimator. A found course answers the
questionnaires it would have answered at the time point (its complete outcome), dated 1–30 days
after the window closed, with source ``tracing``. Draws come from their own generator seeded by
``(seed, 2, chunk number)``, so a registry without tracing is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prolo.synth.outcomes import FOLLOW_UPS, POINTS, Outcomes, assessment_rows
from prolo.synth.params import Params
from prolo.synth.patients import Chunk

Array = np.ndarray[Any, Any]


@dataclass
class TracingTally:
    """Draws per time point across chunks, for the tracing tables and the truth."""

    members: list[pd.DataFrame] = field(default_factory=list)
    eligible: dict[str, int] = field(default_factory=dict)
    sampled: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)

    def as_dict(self, params: Params) -> dict[str, Any]:
        return {
            "fraction": float(params["tracing"]["fraction"]),
            "found_share": float(params["tracing"]["found"]),
            "eligible": self.eligible,
            "sampled": self.sampled,
            "found": self.found,
        }


def enabled(params: Params) -> bool:
    return float(params.get("tracing", {}).get("fraction", 0)) > 0


def trace(
    number: int, seed: int, chunk: Chunk, out: Outcomes, params: Params, tally: TracingTally
) -> pd.DataFrame:
    """The traced questionnaires of one chunk (import rows); the draws go to ``tally``."""
    rng = np.random.default_rng([seed, 2, number])
    fraction = float(params["tracing"]["fraction"])
    found_share = float(params["tracing"]["found"])
    n = len(chunk.course_id)
    found = np.zeros((n, len(POINTS)), dtype=bool)
    day = out.day.copy()
    for k, point in enumerate(FOLLOW_UPS, start=1):
        eligible = np.flatnonzero(~out.answered[:, k])
        size = round(fraction * len(eligible))
        drawn = np.sort(rng.choice(eligible, size, replace=False)) if size else eligible[:0]
        sampled = np.zeros(len(eligible), dtype=bool)
        sampled[np.searchsorted(eligible, drawn)] = True
        hit = drawn[rng.random(size) < found_share]
        found[hit, k] = True
        day[hit, k] = point.end + rng.integers(1, 31, len(hit))
        tally.members.append(
            pd.DataFrame(
                {
                    "course_id": chunk.course_id[eligible],
                    "time_point": point.name,
                    "sampled": sampled,
                    "probability": size / len(eligible) if len(eligible) else 0.0,
                    "chunk": number,
                }
            )
        )
        for counter, value in ((tally.eligible, len(eligible)), (tally.sampled, size)):
            counter[point.name] = counter.get(point.name, 0) + value
        tally.found[point.name] = tally.found.get(point.name, 0) + len(hit)
    if not found.any():
        return pd.DataFrame()
    view = Outcomes(**{**out.__dict__, "answered": found, "day": day})
    rows = assessment_rows(rng, chunk, view, params)
    rows["source"] = "tracing"
    return rows

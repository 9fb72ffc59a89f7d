"""HIPAA Safe Harbor de-identification of the course table (45 CFR 164.514(b)(2)).

The course table already holds no names, contact details, dates or record numbers: dates are
days from each course's first injection and ages are whole years. What remains to remove are
the database ids of patients and courses (unique identifying numbers) and ages over 89, which
Safe Harbor requires to be aggregated into one category.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DROPPED = ("course_id", "patient_id")
AGE_CAP = 90  # "age 90 or older"


def deidentify(table: pd.DataFrame, *, seed: int | None = None) -> pd.DataFrame:
    """Rows in a random order, ids replaced by a row number, ages floored and capped at 90."""
    rng = np.random.default_rng(seed)
    out = table.drop(columns=[c for c in DROPPED if c in table.columns])
    if "age" in out.columns:
        out["age"] = np.minimum(np.floor(out["age"]), AGE_CAP)
    out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    out.insert(0, "record", np.arange(1, len(out) + 1))
    return out

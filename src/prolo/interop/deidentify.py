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


# --- study ids ------------------------------------------------------------------------------
#
# Exports name patients by a keyed hash of their database id (HMAC-SHA256, RFC 2104): the same
# key gives the same study id in every export, so files of one project can be linked, while
# nobody without the key can go back from a study id to the patient (a plain hash of a small
# integer could be reversed by trying every id). Safe Harbor allows such a code as long as it is
# not derived from identifiers in a way that can be reversed and the key is not disclosed.

STUDY_ID_PREFIX = "P"


def study_key(configured: str | None) -> tuple[bytes, bool]:
    """The key for study ids and whether it is the configured one (``PROLO_STUDY_ID_KEY``);
    without one, a random key for this export only (its ids link to no other export)."""
    import secrets

    if configured:
        return configured.encode("utf-8"), True
    return secrets.token_bytes(32), False


def study_id(patient_id: int, key: bytes) -> str:
    """The study id of one patient: the first 16 hex digits (64 bits) of the keyed hash."""
    import hashlib
    import hmac

    digest = hmac.new(key, f"patient:{int(patient_id)}".encode(), hashlib.sha256).hexdigest()
    return STUDY_ID_PREFIX + digest[:16]


def study_ids(patient_ids: pd.Series, key: bytes) -> pd.Series:
    """Study ids for a column of patient ids (each distinct id hashed once)."""
    distinct = {int(p): study_id(int(p), key) for p in pd.unique(patient_ids.dropna())}
    return patient_ids.map(lambda p: distinct.get(int(p)) if pd.notna(p) else None)


def cap_ages(ages: pd.Series) -> pd.Series:
    """Whole years, ages over 89 pooled as 90 (Safe Harbor)."""
    return pd.Series(np.minimum(np.floor(ages), AGE_CAP), index=ages.index)

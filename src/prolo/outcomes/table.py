"""The course table: the one input of every outcome statistic (a course per row).

Columns (``outcomes.extract.course_table`` produces them from the database; the synthetic
generator and notebooks can build them directly):

- ids: ``course_id``, ``patient_id``, ``site_id``, ``practitioner_id``
- covariates: ``region`` (cervical / thoracic / lumbar / sacroiliac_pelvic), ``age`` (years at
  the index date), ``sex``, ``diagnosis_confirmation`` (palpation_provocation / anesthetic_block /
  imaging / none), ``duration_months`` (onset to index), ``planned_sessions``, ``sessions_done``,
  ``followup_therapy_adherence`` (0–100, null when none was prescribed), ``practitioner_years``,
  ``practitioner_trained`` (a verified training record), ``practitioner_prior_procedures``
- scores: ``{measure}_{time point}`` for measures ``nrs_back, nrs_leg, odi, rmdq, ndi, pgic`` and
  time points ``baseline, 6w, 3m, 6m, 12m, 24m`` (null: no assessment in that window)
- recurrence: ``time_to_recurrence_days``, ``recurrence_observed``, ``last_contact_days``
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl

ID_COLUMNS = ("course_id", "patient_id", "site_id", "practitioner_id")
COVARIATES = (
    "region",
    "age",
    "sex",
    "diagnosis_confirmation",
    "duration_months",
    "planned_sessions",
    "sessions_done",
    "followup_therapy_adherence",
    "practitioner_years",
    "practitioner_trained",
    "practitioner_prior_procedures",
)
MEASURES = ("nrs_back", "nrs_leg", "odi", "rmdq", "ndi", "pgic")
TIME_POINTS = ("baseline", "6w", "3m", "6m", "12m", "24m")
RECURRENCE = ("time_to_recurrence_days", "recurrence_observed", "last_contact_days")


class CourseTableError(ValueError):
    pass


def score_column(measure: str, time_point: str) -> str:
    return f"{measure}_{time_point}"


def as_pandas(table: Any) -> pd.DataFrame:
    """Accept Polars, pandas or Arrow at the boundary; statistics work on pandas/NumPy."""
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, pl.DataFrame):
        return table.to_pandas()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.to_pandas()


def validate_course_table(table: pd.DataFrame, needed: tuple[str, ...] = ()) -> None:
    """Raise a clear error naming the first missing column."""
    for column in (*ID_COLUMNS, *needed):
        if column not in table.columns:
            raise CourseTableError(f"the course table has no column {column!r}")


def numeric(table: pd.DataFrame, column: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A column as float64 with NaN for missing (an absent column is all missing)."""
    if column not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

"""The report's further sections: safety, patient flow, recurrence, practitioners, factors."""

from __future__ import annotations

from typing import Any

import pandas as pd

from prolo.outcomes.estimands import EstimandTable
from prolo.outcomes.extract import Filters, safety_tables


def build(url: str, table: pd.DataFrame, filters: Filters, first: EstimandTable) -> dict[str, Any]:
    from prolo.outcomes import flow, safety

    sessions, events = safety_tables(url, filters)
    return {
        "safety": safety.summary(sessions.to_pandas(), events.to_pandas(), courses=len(table)),
        "flow": flow.patient_flow(table, first.definition),
    }

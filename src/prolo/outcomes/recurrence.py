"""Recurrence among responders: Kaplan–Meier (lifelines) from day 0 to recurrence or re-injury,
censored at the last contact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from prolo.outcomes.definitions import evaluate
from prolo.outcomes.table import numeric

HORIZONS = {"6 months": 182, "12 months": 365, "24 months": 730}


def responder_times(
    table: pd.DataFrame, definition: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(days, event) for responders under ``definition``: the recurrence day when one was
    recorded, else the last contact (censored)."""
    evaluation = evaluate(definition, table)
    responders = evaluation.observed & (evaluation.success == 1)
    recurrence = numeric(table, "time_to_recurrence_days")
    last = numeric(table, "last_contact_days")
    event = ~np.isnan(recurrence)
    days = np.where(event, recurrence, last)
    keep = responders & ~np.isnan(days) & (days >= 0)
    return days[keep], event[keep]


def kaplan_meier(table: pd.DataFrame, definition: str) -> dict[str, Any]:
    """Recurrence-free proportion among responders at 6, 12 and 24 months, 95% intervals
    (lifelines: exponential Greenwood), with the numbers at risk."""
    from lifelines import KaplanMeierFitter

    days, event = responder_times(table, definition)
    result: dict[str, Any] = {
        "definition": f"recurrence-free among responders to {definition}; Kaplan–Meier, "
        "censored at last contact; 95% intervals",
        "responders": len(days),
        "recurrences": int(event.sum()),
        "at": [],
    }
    if len(days) == 0:
        return result
    fitter = KaplanMeierFitter().fit(days, event_observed=event)
    band = fitter.confidence_interval_survival_function_
    for label, day in HORIZONS.items():
        survival = float(fitter.survival_function_at_times(day).iloc[0])
        index = band.index[band.index <= day].max()
        result["at"].append(
            {
                "horizon": label,
                "day": day,
                "recurrence_free": survival,
                "ci_lb": float(band.loc[index].iloc[0]),
                "ci_ub": float(band.loc[index].iloc[1]),
                "at_risk": int((days >= day).sum()),
            }
        )
    result["curve"] = {
        "day": [float(t) for t in fitter.survival_function_.index],
        "recurrence_free": [float(v) for v in fitter.survival_function_.iloc[:, 0]],
    }
    return result

"""The report's further sections: safety, patient flow, recurrence, key factors, practitioners."""

from __future__ import annotations

from typing import Any

import pandas as pd

from prolo.outcomes.estimands import EstimandTable
from prolo.outcomes.extract import Filters, safety_tables


def build(
    url: str, table: pd.DataFrame, filters: Filters, first: EstimandTable, imputations: int = 10
) -> dict[str, Any]:
    from prolo.outcomes import factors, flow, practitioners, recurrence, safety

    sessions, events = safety_tables(url, filters)
    result: dict[str, Any] = {
        "safety": safety.summary(sessions.to_pandas(), events.to_pandas(), courses=len(table)),
        "flow": flow.patient_flow(table, first.definition),
        "recurrence": recurrence.kaplan_meier(table, first.definition),
    }
    expected = None
    followed = first.completeness["followed"]
    if followed >= 30 and table["practitioner_id"].nunique() >= 3:
        model = factors.key_factors(table, first.definition, imputations=imputations)
        result["factors"] = model.as_dict()
        expected = model.expected
    result["practitioners"] = practitioners.funnel(table, first.definition, expected).as_dict()
    result["beside_trials"] = [
        {
            "label": f"Registry, {label}",
            "estimate": e.estimate,
            "ci_lb": e.ci_lb,
            "ci_ub": e.ci_ub,
            "detail": f"{first.definition}, n={e.denominator}",
        }
        for label, e in (
            ("missing = failure", first.find("missing_failure")),
            ("multiple imputation", first.find("multiple_imputation")),
        )
        if e is not None and e.estimate is not None and e.ci_lb is not None and e.ci_ub is not None
    ]
    return result

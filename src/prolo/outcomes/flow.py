"""Patient flow from enrolment to analysis: every course accounted for, exclusions by reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from prolo.outcomes.definitions import evaluate
from prolo.outcomes.table import TIME_POINTS, numeric, score_column


def patient_flow(table: pd.DataFrame, definition: str) -> dict[str, Any]:
    """Enrolled → treated (≥ 1 injection) → evaluable (baseline) → followed at each time point →
    analysed for ``definition``."""
    evaluation = evaluate(definition, table)
    measure = evaluation.definition.measures[0]
    treated = numeric(table, "sessions_done") > 0
    evaluable = evaluation.evaluable & treated
    followed = {
        point: int((evaluable & ~np.isnan(numeric(table, score_column(measure, point)))).sum())
        for point in TIME_POINTS[1:]
    }
    reasons = pd.Series(evaluation.excluded_reason[treated & ~evaluation.evaluable]).value_counts()
    return {
        "definition": definition,
        "enrolled_courses": len(table),
        "enrolled_patients": int(table["patient_id"].nunique()) if len(table) else 0,
        "treated": int(treated.sum()),
        "not_treated": int((~treated).sum()),
        "evaluable": int(evaluable.sum()),
        "not_evaluable": {str(k): int(v) for k, v in reasons.items()},
        "followed": followed,
        "analysed": int((evaluable & evaluation.observed).sum()),
        "time_point": evaluation.definition.time_point,
    }

"""Assemble the outcome report from one extraction and the pure statistics."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from prolo.outcomes import sensitivity
from prolo.outcomes.definitions import parse
from prolo.outcomes.estimands import CLAIM_BAND, EstimandTable, estimand_table
from prolo.outcomes.extract import Filters
from prolo.outcomes.store import analysis_table
from prolo.outcomes.table import TIME_POINTS, numeric, score_column

DEFAULT_DEFINITIONS = ("pain50@6m", "pain30@6m", "composite@6m", "pain50@12m")


@dataclass
class Trajectory:
    measure: str
    rows: list[dict[str, Any]]


@dataclass
class OutcomeReport:
    filters: dict[str, Any]
    courses: int
    tables: list[EstimandTable]
    trajectories: list[Trajectory]
    claim_band: tuple[float, float]
    data_as_of: dt.datetime | None = None  # the newest change to the registry included
    sections: dict[str, Any] = field(default_factory=dict)
    sensitivity: list[sensitivity.Sensitivity] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        first = self.tables[0]
        return {
            "definition": first.definition,
            "estimands": [e.as_dict() for t in self.tables for e in t.estimates],
            "completeness": first.completeness,
            "definitions": [t.as_dict() for t in self.tables],
            "claim_band": list(self.claim_band),
            "courses": self.courses,
            "filters": self.filters,
            "data_as_of": self.data_as_of.isoformat() if self.data_as_of else None,
            "trajectories": [
                {"measure": t.measure, "time_points": t.rows} for t in self.trajectories
            ],
            "sensitivity": [s.as_dict() for s in self.sensitivity],
            **self.sections,
        }


def trajectory(table: pd.DataFrame, measure: str) -> Trajectory:
    """Mean score at each time point among courses assessed then, with a t-based 95% interval."""
    rows = []
    for point in TIME_POINTS:
        values = numeric(table, score_column(measure, point))
        values = values[~np.isnan(values)]
        n = len(values)
        mean = float(values.mean()) if n else None
        half = None
        if n > 1:
            half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))
        rows.append(
            {
                "time_point": point,
                "n": n,
                "mean": mean,
                "ci_lb": None if half is None or mean is None else mean - half,
                "ci_ub": None if half is None or mean is None else mean + half,
            }
        )
    return Trajectory(measure, rows)


def outcome_report(
    url: str,
    *,
    definitions: tuple[str, ...] = DEFAULT_DEFINITIONS,
    filters: Filters | None = None,
    claim_band: tuple[float, float] = CLAIM_BAND,
    imputations: int = 20,
    seed: int = 20261124,
) -> OutcomeReport:
    parsed = [parse(name) for name in definitions]  # fail early on a bad name
    filters = filters or Filters()
    measures = sorted({m for d in parsed for m in d.measures} | {"nrs_back", "odi", "ndi"})
    # From the analysis store, refreshed first when anything changed since its snapshot.
    analysis = analysis_table(url, measures=measures, filters=filters)
    table = analysis.table.to_pandas()
    tables = [
        estimand_table(table, d, claim_band=claim_band, imputations=imputations, seed=seed)
        for d in parsed
    ]
    trajectories = [trajectory(table, m) for m in ("nrs_back", "odi", "ndi") if m in measures]
    analyses = [
        sensitivity.analyse(
            d, table, claim_band=claim_band, imputations=min(imputations, 10), seed=seed
        )
        or sensitivity.nothing_to_adjust(d)
        for d in parsed
    ]
    report = OutcomeReport(
        filters={
            "site_ids": list(filters.site_ids),
            "practitioner_ids": list(filters.practitioner_ids),
            "regions": list(filters.regions),
        },
        courses=len(table),
        tables=tables,
        trajectories=trajectories,
        claim_band=claim_band,
        data_as_of=analysis.data_as_of,
        sensitivity=analyses,
    )
    report.sections.update(extra_sections(url, table, filters, tables[0]))
    return report


def extra_sections(
    url: str, table: pd.DataFrame, filters: Filters, first: EstimandTable
) -> dict[str, Any]:
    """Safety, patient flow, recurrence, practitioners and key factors, where available."""
    from prolo.reports import sections

    return sections.build(url, table, filters, first)


def dashboard_report(
    url: str,
    *,
    definition: str,
    filters: Filters | None = None,
    claim_band: tuple[float, float] = CLAIM_BAND,
    imputations: int = 20,
    seed: int = 20261124,
) -> OutcomeReport:
    """What the outcome dashboard shows of the report for one definition: its estimand table,
    the score trajectories and the patient flow (not the slower safety, recurrence, factor and
    practitioner sections of the full report)."""
    from prolo.outcomes import flow

    parsed = parse(definition)
    filters = filters or Filters()
    measures = sorted(set(parsed.measures) | {"nrs_back", "odi", "ndi"})
    analysis = analysis_table(url, measures=measures, filters=filters)
    table = analysis.table.to_pandas()
    first = estimand_table(table, parsed, claim_band=claim_band, imputations=imputations, seed=seed)
    adjusted = sensitivity.analyse(
        parsed, table, claim_band=claim_band, imputations=min(imputations, 10), seed=seed
    ) or sensitivity.nothing_to_adjust(parsed)
    return OutcomeReport(
        filters={
            "site_ids": list(filters.site_ids),
            "practitioner_ids": list(filters.practitioner_ids),
            "regions": list(filters.regions),
        },
        courses=len(table),
        tables=[first],
        trajectories=[trajectory(table, m) for m in ("nrs_back", "odi", "ndi")],
        claim_band=claim_band,
        data_as_of=analysis.data_as_of,
        sensitivity=[adjusted],
        sections={"flow": flow.patient_flow(table, first.definition)},
    )

"""REST endpoints of the evidence domain (mounted by the application factory).

Thin routes: parse, call :mod:`prolo.evidence.pooling`, return. Input errors become
``application/problem+json`` with the row and column at fault. No database is used.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

router = APIRouter(prefix="/evidence", tags=["evidence"])

NUMERIC_FIELDS = ("ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "sd1i", "m2i", "sd2i", "xi", "ni")


class StudyIn(BaseModel):
    """One study in metafor ``escalc`` names; give one complete column set."""

    study: str | None = None
    ai: float | None = None
    bi: float | None = None
    ci: float | None = None
    di: float | None = None
    n1i: float | None = None
    n2i: float | None = None
    m1i: float | None = None
    sd1i: float | None = None
    m2i: float | None = None
    sd2i: float | None = None
    xi: float | None = None
    ni: float | None = None


class PoolRequest(BaseModel):
    """Studies to pool and how."""

    studies: list[StudyIn] = Field(min_length=1)
    measure: Literal["RR", "OR", "RD", "MD", "SMD", "PLO"]
    method: Literal["EE", "DL", "REML", "PM"] = "REML"
    hksj: bool = False
    mh: bool = False


class PoolResult(BaseModel):
    """The pooled result on the analysis scale (log for RR/OR, logit for PLO)."""

    k: int
    estimate: float | None
    se: float | None
    ci_lb: float | None
    ci_ub: float | None
    pval: float | None
    tau2: float | None
    I2: float | None
    H2: float | None
    Q: float | None
    Q_pval: float | None
    pi_lb: float | None
    pi_ub: float | None
    tau: float | None = None
    tau2_se: float | None = None
    Q_df: int | None = None
    method: str = ""
    test: str = ""


def _problem(detail: str, *, row: int | None = None, column: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "Invalid study data",
        "status": 422,
        "detail": detail,
    }
    if row is not None:
        body["row"] = row
    if column is not None:
        body["column"] = column
    return JSONResponse(body, status_code=422, media_type="application/problem+json")


def _as_csv(studies: list[StudyIn]) -> str:
    """The studies as CSV text so that they go through the same validation as files."""
    present = [f for f in NUMERIC_FIELDS if any(getattr(s, f) is not None for s in studies)]
    lines = [",".join(["study", *present])]
    for i, s in enumerate(studies, start=1):
        label = (s.study or f"Study {i}").replace(",", " ")
        cells = ["" if getattr(s, f) is None else repr(getattr(s, f)) for f in present]
        lines.append(",".join([label, *cells]))
    return "\n".join(lines) + "\n"


@router.get("/trials")
def list_trials() -> list[dict[str, Any]]:
    """The bundled randomized trials of prolotherapy for chronic spinal pain, with citations."""
    from prolo.evidence.trials import bundled_trials

    return [t.to_dict() for t in bundled_trials()]


@router.post("/pool", response_model=PoolResult, responses={422: {"description": "bad input"}})
def pool_studies(request: PoolRequest) -> Any:
    """Pool studies (inverse variance with EE/DL/REML/PM, optional HKSJ, or Mantel–Haenszel)."""
    from prolo.evidence.errors import EvidenceInputError
    from prolo.evidence.pooling import pool
    from prolo.evidence.tau2 import ConvergenceError
    from prolo.evidence.trials import parse_studies

    try:
        studies = parse_studies(_as_csv(request.studies))
        pooled = pool(
            studies,
            measure=request.measure,
            method=request.method,
            hksj=request.hksj,
            mh=request.mh,
        )
    except EvidenceInputError as exc:
        return _problem(str(exc), row=exc.row, column=exc.column)
    except ConvergenceError as exc:
        return _problem(str(exc))
    return pooled.fit.to_dict()


@router.get("/forest.svg", response_class=Response)
def forest_svg(
    comparison: Annotated[str, Query()] = "prolotherapy_with_cointerventions",
    outcome: Annotated[Literal["binary", "continuous"], Query()] = "binary",
    measure: Annotated[Literal["RR", "OR", "RD", "MD", "SMD"] | None, Query()] = None,
    method: Annotated[Literal["EE", "DL", "REML", "PM"], Query()] = "REML",
    hksj: bool = False,
) -> Response:
    """Forest plot (SVG) of the bundled trials of one comparison and outcome kind."""
    from prolo.evidence.errors import EvidenceInputError
    from prolo.evidence.forest import figure_bytes, forest_figure
    from prolo.evidence.pooling import pool_bundled

    try:
        pooled = pool_bundled(
            comparison=comparison, outcome=outcome, measure=measure, method=method, hksj=hksj
        )
    except EvidenceInputError as exc:
        return _problem(str(exc), row=exc.row, column=exc.column)
    return Response(figure_bytes(forest_figure(pooled), "svg"), media_type="image/svg+xml")

"""The outcome report as JSON through the API: the same results as `prolo report`."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from prolo.outcomes.estimands import CLAIM_BAND
from prolo.outcomes.extract import Filters
from prolo.reports.build import DEFAULT_DEFINITIONS, outcome_report
from prolo.web.deps import ActorDep

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/outcomes", summary="Estimands, completeness, flow and safety as JSON")
def outcomes(
    request: Request,
    actor: ActorDep,
    definition: Annotated[list[str] | None, Query()] = None,
    site_id: Annotated[list[int] | None, Query()] = None,
    practitioner_id: Annotated[list[int] | None, Query()] = None,
    region: Annotated[list[str] | None, Query()] = None,
    claim_low: float = CLAIM_BAND[0],
    claim_high: float = CLAIM_BAND[1],
    imputations: Annotated[int, Query(ge=2, le=100)] = 20,
) -> dict[str, Any]:
    from prolo.errors import invalid
    from prolo.storable import INT_MAX, INT_MIN

    for name, ids in (("site_id", site_id), ("practitioner_id", practitioner_id)):
        if any(not INT_MIN <= i <= INT_MAX for i in ids or []):
            raise invalid(name, "is not a record id (whole numbers up to 2147483647)")
    sites = list(site_id or [])
    # Staff see their own sites' results; researchers see every site's aggregate figures.
    if actor.role in ("clinician", "coordinator"):
        sites = [s for s in sites if s in actor.site_ids] or sorted(actor.site_ids)
    try:
        report = outcome_report(
            str(request.app.state.engine.url.render_as_string(hide_password=False)),
            definitions=tuple(definition or DEFAULT_DEFINITIONS[:1]),
            filters=Filters(sites, practitioner_id or [], region or []),
            claim_band=(claim_low, claim_high),
            imputations=imputations,
        )
    except ValueError as error:
        raise invalid("definition", str(error)) from error
    return report.as_dict()

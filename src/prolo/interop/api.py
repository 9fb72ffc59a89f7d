"""De-identified record-level data for researchers (Safe Harbor), as JSON or CSV."""

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from prolo.security.policy import Forbidden
from prolo.storable import RecordId
from prolo.web.deps import ActorDep, SessionDep

router = APIRouter(prefix="/research", tags=["research"])


@router.get("/courses", summary="De-identified course table (Safe Harbor): a course per row")
def deidentified_courses(
    request: Request, actor: ActorDep, format: Literal["json", "csv"] = "json"
) -> Any:
    if actor.role not in ("researcher", "admin"):
        raise Forbidden(f"the {actor.role} role uses the identified records instead")
    from prolo.interop.deidentify import deidentify
    from prolo.outcomes.store import analysis_table

    url = request.app.state.engine.url.render_as_string(hide_password=False)
    table = deidentify(analysis_table(url).table.to_pandas())
    if format == "csv":
        return Response(table.to_csv(index=False), media_type="text/csv")
    return {
        "definition": "Safe Harbor de-identified course table; days count from each "
        "course's first injection; ages over 89 shown as 90",
        "rows": len(table),
        "records": table.to_dict("records"),
    }


fhir_router = APIRouter(prefix="/fhir", tags=["fhir"])


@fhir_router.get(
    "/Patient/{patient_id}/$everything",
    summary="Everything about one patient as a FHIR R4 Bundle (type collection)",
    response_class=Response,
    responses={200: {"content": {"application/fhir+json": {}}}},
)
def patient_everything(patient_id: RecordId, session: SessionDep, actor: ActorDep) -> Response:
    import json

    from prolo.interop.fhir import everything
    from prolo.registry import service
    from prolo.registry.entities import ENTITIES

    service.get_or_raise(session, ENTITIES["patient"], patient_id, actor=actor)
    bundle = everything(session.connection(), patient_id)
    return Response(json.dumps(bundle, default=str), media_type="application/fhir+json")

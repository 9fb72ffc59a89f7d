"""The clinician's pages: patient list and search, the patient chart, and a form for every
clinical record (create, correct with a reason, retire with a reason, history).

Every form is described from the API's schema and saved through ``registry.service`` (rules,
site scoping and audit), so a form refuses exactly what the API refuses, with the same words.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from prolo.errors import DomainError, NotFound
from prolo.registry import charts, service, vocabulary
from prolo.registry.entities import ENTITIES, Entity
from prolo.registry.schemas import RetireRequest
from prolo.security import audit
from prolo.security.policy import WRITERS
from prolo.security.principal import Principal
from prolo.web import forms
from prolo.web.deps import FormDep, SessionDep
from prolo.web.render import page_user, render

router = APIRouter(include_in_schema=False)
# Patient records are for the staff roles; a researcher sees only de-identified data.
Staff = Annotated[Principal, Depends(page_user({"admin", "clinician", "coordinator"}))]

# The records a chart adds, in the order of the chart's "add" menu.
CHART_ENTITIES = (
    "condition",
    "prior_treatment",
    "treatment_course",
    "injection_session",
    "co_intervention",
    "adverse_event",
    "recurrence",
    "work_status",
    "objective_measure",
)
BY_PATH = {ENTITIES[name].path: ENTITIES[name] for name in ("patient", *CHART_ENTITIES)}
PAGE_SIZE = 50


def _label(entity: Entity) -> str:
    return entity.name.replace("_", " ")


def _entity(path: str) -> Entity:
    found = BY_PATH.get(path)
    if found is None:
        raise NotFound("kind of record", path)
    return found


# --- choices offered by the forms --------------------------------------------------------


def _records(db: Session, name: str, actor: Principal, **filters: int) -> list[Any]:
    return service.list_records(
        db,
        ENTITIES[name],
        actor=actor,
        filters={k: str(v) for k, v in filters.items()},
        limit=service.MAX_PAGE,
    ).items


def options_for(
    db: Session, entity: Entity, actor: Principal, patient_id: int | None
) -> dict[str, list[forms.Option]]:
    """The choices of each coded or linked field: vocabulary terms, and the records of this
    patient (conditions, courses, sessions) or of the user's sites (sites, practitioners)."""
    choices: dict[str, list[forms.Option]] = {}
    for field_name, vocab in entity.vocabulary_fields.items():
        choices[field_name] = vocab_options(db, vocab)
    for field_name, target in entity.references.items():
        if target == "patient":
            continue
        if target == "site":
            choices[field_name] = [
                forms.Option(str(s.id), f"{s.name} ({s.code})") for s in _records(db, "site", actor)
            ]
        elif target == "practitioner":
            choices[field_name] = [
                forms.Option(str(p.id), p.name) for p in _records(db, "practitioner", actor)
            ]
        elif patient_id is not None:
            choices[field_name] = _patient_choices(db, target, actor, patient_id)
    return choices


def vocab_options(db: Session, vocab: str) -> list[forms.Option]:
    return [forms.Option(t.code, t.label) for t in vocabulary.terms(db, vocab)]


def _patient_choices(
    db: Session, target: str, actor: Principal, patient_id: int
) -> list[forms.Option]:
    if target == "condition":
        return [
            forms.Option(str(c.id), f"{c.icd10_code} {c.region} (since {c.onset_date})")
            for c in _records(db, "condition", actor, patient_id=patient_id)
        ]
    courses = _records(db, "treatment_course", actor, patient_id=patient_id)
    if target == "treatment_course":
        return [forms.Option(str(c.id), f"Course {c.id} from {c.start_date}") for c in courses]
    if target == "injection_session":
        return [
            forms.Option(str(s.id), f"Session {s.id} on {s.session_date} (course {c.id})")
            for c in courses
            for s in _records(db, "injection_session", actor, course_id=c.id)
        ]
    return []


def _form_page(
    request: Request,
    db: Session,
    principal: Principal,
    entity: Entity,
    form: forms.Form,
    *,
    action: str,
    patient: Any | None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "registry/record_form.html",
        principal,
        db=db,
        status_code=status_code,
        entity=entity,
        label=_label(entity),
        form=form,
        action=action,
        patient=patient,
        target_options=vocab_options(db, "target") if entity.name == "injection_session" else [],
        side_options=vocab_options(db, "side") if entity.name == "injection_session" else [],
    )


def _create(
    db: Session, entity: Entity, raw: Any, actor: Principal
) -> tuple[Any | None, list[dict[str, str]]]:
    """Validate the posted form with the API's schema and save it through the service."""
    checked = forms.validate(entity.create, forms.submitted(entity.create, raw))
    if checked.data is None:
        return None, checked.problems
    try:
        record = service.create(db, entity, checked.data, actor=actor)
    except DomainError as error:
        db.rollback()
        return None, forms.domain_problems(error)
    db.commit()
    return record, []


# --- patients ----------------------------------------------------------------------------


@router.get("/app/patients", response_class=HTMLResponse)
def patients(
    request: Request,
    db: SessionDep,
    principal: Staff,
    external_id: str = "",
    name: str = "",
    birth_date: str = "",
    offset: int = 0,
) -> Response:
    born: dt.date | None = None
    problems = []
    if birth_date.strip():
        try:
            born = dt.date.fromisoformat(birth_date.strip())
        except ValueError:
            problems.append("birth date: use the form YYYY-MM-DD")
    page = service.search_patients(
        db,
        actor=principal,
        external_id=external_id.strip(),
        name=name.strip(),
        birth_date=born,
        limit=PAGE_SIZE,
        offset=max(offset, 0),
    )
    return render(
        request,
        "registry/patients.html",
        principal,
        db=db,
        page=page,
        query={"external_id": external_id, "name": name, "birth_date": birth_date},
        problems=problems,
    )


@router.get("/app/patients/new", response_class=HTMLResponse)
def new_patient(request: Request, db: SessionDep, principal: Staff) -> Response:
    entity = ENTITIES["patient"]
    values = {"site_id": next(iter(sorted(principal.site_ids)), None)}
    form = forms.describe(
        entity.create, values=values, options=options_for(db, entity, principal, None)
    )
    return _form_page(request, db, principal, entity, form, action="/app/patients", patient=None)


@router.post("/app/patients", response_class=HTMLResponse)
def create_patient(request: Request, db: SessionDep, principal: Staff, raw: FormDep) -> Response:
    entity = ENTITIES["patient"]
    record, problems = _create(db, entity, raw, principal)
    if record is not None:
        return RedirectResponse(f"/app/patients/{record.id}", status_code=303)
    form = forms.describe(
        entity.create,
        values=forms.submitted(entity.create, raw),
        options=options_for(db, entity, principal, None),
    )
    form.set_errors(problems)
    return _form_page(
        request,
        db,
        principal,
        entity,
        form,
        action="/app/patients",
        patient=None,
        status_code=422,
    )


@router.get("/app/patients/{patient_id}", response_class=HTMLResponse)
def chart(request: Request, patient_id: int, db: SessionDep, principal: Staff) -> Response:
    patient = service.get_or_raise(db, ENTITIES["patient"], patient_id, actor=principal)
    content = charts.chart(db, patient, principal)
    return render(
        request,
        "registry/chart.html",
        principal,
        db=db,
        patient=patient,
        chart=content,
        trajectories=content.trajectories,
        targets_text=charts.targets_text,
        adds=[
            (ENTITIES[n].path, _label(ENTITIES[n]))
            for n in CHART_ENTITIES
            if principal.role in WRITERS.get(n, frozenset())
        ],
    )


# --- every other clinical record ---------------------------------------------------------


@router.get("/app/patients/{patient_id}/{path}/new", response_class=HTMLResponse)
def new_record(
    request: Request, patient_id: int, path: str, db: SessionDep, principal: Staff
) -> Response:
    entity = _entity(path)
    patient = service.get_or_raise(db, ENTITIES["patient"], patient_id, actor=principal)
    prefill = {k: v for k, v in request.query_params.items() if k in entity.create.model_fields}
    form = forms.describe(
        entity.create,
        values=prefill,
        options=options_for(db, entity, principal, patient.id),
        hidden=_fixed(entity, patient.id),
    )
    return _form_page(
        request,
        db,
        principal,
        entity,
        form,
        action=f"/app/patients/{patient.id}/{entity.path}",
        patient=patient,
    )


def _fixed(entity: Entity, patient_id: int) -> dict[str, Any]:
    return {"patient_id": patient_id} if "patient_id" in entity.create.model_fields else {}


@router.post("/app/patients/{patient_id}/{path}", response_class=HTMLResponse)
def create_record(
    request: Request, patient_id: int, path: str, db: SessionDep, principal: Staff, raw: FormDep
) -> Response:
    entity = _entity(path)
    patient = service.get_or_raise(db, ENTITIES["patient"], patient_id, actor=principal)
    fixed = _fixed(entity, patient.id)
    posted = {**{k: raw.get(k) for k in raw}, **{k: str(v) for k, v in fixed.items()}}
    record, problems = _create(db, entity, posted, principal)
    if record is not None:
        return RedirectResponse(f"/app/patients/{patient.id}#t-{entity.name}-{record.id}", 303)
    form = forms.describe(
        entity.create,
        values=forms.submitted(entity.create, posted),
        options=options_for(db, entity, principal, patient.id),
        hidden=fixed,
    )
    form.set_errors(problems)
    return _form_page(
        request,
        db,
        principal,
        entity,
        form,
        action=f"/app/patients/{patient.id}/{entity.path}",
        patient=patient,
        status_code=422,
    )


def _patient_of(db: Session, entity: Entity, record: Any, actor: Principal) -> Any:
    """The patient a record belongs to (directly, or through its course)."""
    if entity.name == "patient":
        return record
    patient_id = getattr(record, "patient_id", None)
    if patient_id is None:
        course: Any = service.get_or_raise(
            db, ENTITIES["treatment_course"], int(record.course_id), actor=actor
        )
        patient_id = course.patient_id
    return service.get_or_raise(db, ENTITIES["patient"], int(patient_id), actor=actor)


def _record_page(
    request: Request,
    db: Session,
    principal: Principal,
    entity: Entity,
    record: Any,
    *,
    form: forms.Form | None = None,
    retire_error: str | None = None,
    status_code: int = 200,
) -> Response:
    current = service.before_values(record)
    patient = _patient_of(db, entity, record, principal)
    if form is None:
        form = forms.describe(
            entity.update, values=current, options=options_for(db, entity, principal, patient.id)
        )
    return render(
        request,
        "registry/record.html",
        principal,
        db=db,
        status_code=status_code,
        entity=entity,
        label=_label(entity),
        record=record,
        current={k: v for k, v in current.items() if k not in ("retired_reason",)},
        patient=patient,
        form=form,
        reason_error=form.errors.get("reason"),
        retire_error=retire_error,
        history=audit.history(db, entity=entity.name, entity_id=record.id),
        target_options=vocab_options(db, "target") if entity.name == "injection_session" else [],
        side_options=vocab_options(db, "side") if entity.name == "injection_session" else [],
    )


@router.get("/app/records/{path}/{record_id}", response_class=HTMLResponse)
def record_page(
    request: Request, path: str, record_id: int, db: SessionDep, principal: Staff
) -> Response:
    entity = _entity(path)
    record = service.get_or_raise(db, entity, record_id, actor=principal)
    return _record_page(request, db, principal, entity, record)


@router.post("/app/records/{path}/{record_id}", response_class=HTMLResponse)
def correct_record(
    request: Request, path: str, record_id: int, db: SessionDep, principal: Staff, raw: FormDep
) -> Response:
    """A correction: the changed fields and the reason, validated by the API's update schema."""
    entity = _entity(path)
    record = service.get_or_raise(db, entity, record_id, actor=principal)
    current = service.before_values(record)
    data = forms.changes(entity.update, raw, current)
    checked = forms.validate(entity.update, data)
    problems = checked.problems
    if checked.data is not None:
        try:
            service.update(db, entity, record_id, checked.data, actor=principal)  # type: ignore[arg-type]
        except DomainError as error:
            db.rollback()
            problems = forms.domain_problems(error)
        else:
            db.commit()
            return RedirectResponse(f"/app/records/{entity.path}/{record_id}?saved=1", 303)
    record = service.get_or_raise(db, entity, record_id, actor=principal)
    patient = _patient_of(db, entity, record, principal)
    form = forms.describe(
        entity.update,
        values={**current, **forms.submitted(entity.update, raw)},
        options=options_for(db, entity, principal, patient.id),
    )
    form.set_errors(problems, also=("reason",))
    return _record_page(request, db, principal, entity, record, form=form, status_code=422)


@router.post("/app/records/{path}/{record_id}/retire", response_class=HTMLResponse)
def retire_record(
    request: Request, path: str, record_id: int, db: SessionDep, principal: Staff, raw: FormDep
) -> Response:
    entity = _entity(path)
    checked = forms.validate(RetireRequest, {"reason": raw.get("retire_reason") or ""})
    problems = checked.problems
    if checked.data is not None:
        try:
            reason = str(checked.data.model_dump()["reason"])
            service.retire(db, entity, record_id, reason=reason, actor=principal)
        except DomainError as error:
            db.rollback()
            problems = forms.domain_problems(error)
        else:
            db.commit()
            return RedirectResponse(f"/app/records/{entity.path}/{record_id}?saved=1", 303)
    record = service.get_or_raise(db, entity, record_id, actor=principal)
    reason = "; ".join(p["reason"] for p in problems)
    return _record_page(
        request, db, principal, entity, record, retire_error=reason, status_code=422
    )


# --- the clinician's home ----------------------------------------------------------------


def _url(request: Request) -> str:
    return str(request.app.state.engine.url.render_as_string(hide_password=False))


def clinician_home(request: Request, db: Session, principal: Principal) -> Response:
    """Own patients (at the clinician's sites), follow-ups due this week, outcome figures
    (fetched by htmx from /app/outcome-figures when not computed yet; a link without it)."""
    content = charts.home(db, principal, _url(request))
    return render(request, "registry/home.html", principal, db=db, home=content)


@router.get("/app/outcome-figures", response_class=HTMLResponse)
def outcome_figures(request: Request, db: SessionDep, principal: Staff) -> Response:
    """The outcome figures of the user's sites: a fragment for htmx, else a whole page."""
    sites = tuple(sorted(principal.site_ids))
    figures = charts.outcome_figures(_url(request), sites)
    fragment = request.headers.get("hx-request") == "true"
    name = "registry/figures.html" if fragment else "registry/figures_page.html"
    return render(request, name, principal, db=db, figures=figures)

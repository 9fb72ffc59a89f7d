"""Clinic entry of a questionnaire, item by item: the server scores it (as for the API and the
patient's link) and shows the score after saving; a wrong entry is retired with a reason."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from prolo.assessments import service
from prolo.assessments.api import ASSESSMENTS
from prolo.assessments.schemas import AssessmentCreate, AssessmentUpdate
from prolo.errors import DomainError
from prolo.followup.service import schedule
from prolo.instruments.definitions import Instrument, catalogue
from prolo.registry import service as records
from prolo.registry.entities import ENTITIES
from prolo.registry.schemas import RetireRequest
from prolo.security import audit
from prolo.security.principal import Principal
from prolo.web import forms
from prolo.web.deps import FormDep, SessionDep
from prolo.web.render import page_user, render

router = APIRouter(include_in_schema=False)
Staff = Annotated[Principal, Depends(page_user({"admin", "clinician", "coordinator"}))]


def item_answers(instrument: Instrument, raw: Any) -> list[Any]:
    """Form fields ``item__n`` → answers as the API takes them: a number, true/false for a
    statement (unticked = no), "refused", or "missing" when left blank."""
    values: list[Any] = []
    for n, item in enumerate(instrument.items):
        field = raw.get(f"item__{n}")
        text = field.strip() if isinstance(field, str) else ""
        if item.kind == "boolean":
            values.append(text == "true")
        elif text == "":
            values.append("missing")
        elif text == "refused":
            values.append("refused")
        else:
            try:
                values.append(int(text))
            except ValueError:
                values.append(text)  # the scorer names the item and what it allows
    return values


def _page(
    request: Request,
    db: Session,
    principal: Principal,
    patient: Any,
    *,
    instrument: Instrument | None,
    values: dict[str, Any],
    answers: list[Any] | None = None,
    errors: dict[str, str] | None = None,
    summary: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    courses = records.list_records(
        db,
        ENTITIES["treatment_course"],
        actor=principal,
        filters={"patient_id": str(patient.id)},
        limit=records.MAX_PAGE,
    ).items
    return render(
        request,
        "assessments/entry.html",
        principal,
        db=db,
        status_code=status_code,
        patient=patient,
        instruments=sorted(catalogue().values(), key=lambda i: i.code),
        instrument=instrument,
        courses=courses,
        values=values,
        answers=answers or [],
        errors=errors or {},
        summary=summary or [],
    )


@router.get("/app/patients/{patient_id}/assessments/new", response_class=HTMLResponse)
def new_assessment(
    request: Request,
    patient_id: int,
    db: SessionDep,
    principal: Staff,
    instrument: str = "",
    course_id: str = "",
    assessed_on: str = "",
) -> Response:
    patient = records.get_or_raise(db, ENTITIES["patient"], patient_id, actor=principal)
    chosen = catalogue().get(instrument.upper()) if instrument else None
    values = {
        "instrument": chosen.code if chosen else "",
        "course_id": course_id,
        "assessed_on": assessed_on or dt.date.today().isoformat(),
    }
    errors = {}
    if instrument and chosen is None:
        errors["instrument"] = f"{instrument!r} is not one of {', '.join(sorted(catalogue()))}"
    return _page(request, db, principal, patient, instrument=chosen, values=values, errors=errors)


@router.post("/app/patients/{patient_id}/assessments", response_class=HTMLResponse)
def create_assessment(
    request: Request, patient_id: int, db: SessionDep, principal: Staff, raw: FormDep
) -> Response:
    patient = records.get_or_raise(db, ENTITIES["patient"], patient_id, actor=principal)
    code = str(raw.get("instrument") or "").upper()
    instrument = catalogue().get(code)
    values = {
        "instrument": code,
        "course_id": str(raw.get("course_id") or ""),
        "assessed_on": str(raw.get("assessed_on") or ""),
    }
    answers = item_answers(instrument, raw) if instrument else None
    data: dict[str, Any] = {"patient_id": patient.id, "instrument": code, "items": answers}
    for key in ("course_id", "assessed_on"):
        if values[key].strip():
            data[key] = values[key].strip()
    checked = forms.validate(AssessmentCreate, data)
    problems = checked.problems
    if checked.data is not None:
        try:
            assert isinstance(checked.data, AssessmentCreate)
            record = service.create(
                db, checked.data, actor=principal, source="clinic", schedule=schedule(db)
            )
        except DomainError as error:
            db.rollback()
            problems = forms.domain_problems(error)
        else:
            db.commit()
            return RedirectResponse(f"/app/assessments/{record.id}?saved=1", status_code=303)
    errors: dict[str, str] = {}
    for problem in problems:
        name = problem["field"]
        if name.startswith("items["):
            name = "item__" + name[len("items[") : name.index("]")]
        errors[name] = (
            f"{errors[name]}; {problem['reason']}" if name in errors else problem["reason"]
        )
    return _page(
        request,
        db,
        principal,
        patient,
        instrument=instrument,
        values=values,
        answers=answers,
        errors=_problems_by_field(problems),
        summary=[f"{p['field']}: {p['reason']}" for p in problems],
        status_code=422,
    )


def _problems_by_field(problems: list[dict[str, str]]) -> dict[str, str]:
    """Errors keyed by the form's field names (``items[2]`` is the control ``item__2``)."""
    errors: dict[str, str] = {}
    for problem in problems:
        name = problem["field"]
        if name.startswith("items["):
            name = "item__" + name[len("items[") : name.index("]")]
        previous = errors.get(name)
        errors[name] = f"{previous}; {problem['reason']}" if previous else problem["reason"]
    return errors


def _assessment_page(
    request: Request,
    db: Session,
    principal: Principal,
    record_id: int,
    *,
    retire_error: str | None = None,
    answers: list[Any] | None = None,
    values: dict[str, Any] | None = None,
    problems: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    record = service.get_or_raise(db, record_id, actor=principal)
    patient = records.get_or_raise(db, ENTITIES["patient"], record.patient_id, actor=principal)
    instrument = catalogue().get(record.instrument)
    rows = []
    for n, answer in enumerate(record.items or []):
        item = instrument.items[n] if instrument and n < len(instrument.items) else None
        rows.append((item.label if item else f"Item {n + 1}", answer))
    return render(
        request,
        "assessments/assessment.html",
        principal,
        db=db,
        status_code=status_code,
        record=record,
        patient=patient,
        instrument=instrument,
        rows=rows,
        history=audit.history(db, entity="assessment", entity_id=record.id),
        retire_error=retire_error,
        answers=(record.items or []) if answers is None else answers,
        values=values or {"assessed_on": record.assessed_on.isoformat(), "reason": ""},
        errors=_problems_by_field(problems or []),
        summary=[f"{p['field']}: {p['reason']}" for p in problems or []],
    )


@router.get("/app/assessments/{record_id}", response_class=HTMLResponse)
def assessment(request: Request, record_id: int, db: SessionDep, principal: Staff) -> Response:
    return _assessment_page(request, db, principal, record_id)


@router.post("/app/assessments/{record_id}", response_class=HTMLResponse)
def correct_assessment(
    request: Request, record_id: int, db: SessionDep, principal: Staff, raw: FormDep
) -> Response:
    """A correction of the answers or the date, with a reason; the server scores it again."""
    record = service.get_or_raise(db, record_id, actor=principal)
    instrument = catalogue().get(record.instrument)
    answers = item_answers(instrument, raw) if instrument and record.items is not None else None
    values = {
        "assessed_on": str(raw.get("assessed_on") or ""),
        "reason": str(raw.get("reason") or ""),
    }
    data: dict[str, Any] = {"reason": values["reason"]}
    if values["assessed_on"].strip() and values["assessed_on"] != record.assessed_on.isoformat():
        data["assessed_on"] = values["assessed_on"].strip()
    if answers is not None and answers != list(record.items or []):
        data["items"] = answers
    checked = forms.validate(AssessmentUpdate, data)
    problems = checked.problems
    if checked.data is not None and len(data) == 1:
        problems = [{"field": "body", "reason": "names no field to change"}]
    elif checked.data is not None:
        try:
            assert isinstance(checked.data, AssessmentUpdate)
            service.update(db, record_id, checked.data, actor=principal, schedule=schedule(db))
        except DomainError as error:
            db.rollback()
            problems = forms.domain_problems(error)
        else:
            db.commit()
            return RedirectResponse(f"/app/assessments/{record_id}?saved=1", status_code=303)
    return _assessment_page(
        request,
        db,
        principal,
        record_id,
        answers=answers,
        values=values,
        problems=problems,
        status_code=422,
    )


@router.post("/app/assessments/{record_id}/retire", response_class=HTMLResponse)
def retire_assessment(
    request: Request, record_id: int, db: SessionDep, principal: Staff, raw: FormDep
) -> Response:
    service.get_or_raise(db, record_id, actor=principal)
    checked = forms.validate(RetireRequest, {"reason": raw.get("retire_reason") or ""})
    problems = checked.problems
    if checked.data is not None:
        try:
            reason = str(checked.data.model_dump()["reason"])
            records.retire(db, ASSESSMENTS, record_id, reason=reason, actor=principal)
        except DomainError as error:
            db.rollback()
            problems = forms.domain_problems(error)
        else:
            db.commit()
            return RedirectResponse(f"/app/assessments/{record_id}?saved=1", status_code=303)
    return _assessment_page(
        request,
        db,
        principal,
        record_id,
        retire_error="; ".join(p["reason"] for p in problems),
        status_code=422,
    )

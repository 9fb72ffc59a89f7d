"""The coordinator's follow-up pages: the worklist of due questionnaires with its filters, sending
an invitation or reminder now, entering a questionnaire taken by telephone, and completeness.

Every action goes through the follow-up services, which check the role and the site and audit.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.errors import DomainError
from prolo.followup import service
from prolo.followup.answers import record_by_phone
from prolo.followup.completeness import GROUPINGS, completeness
from prolo.followup.pages import answers_for
from prolo.followup.sending import TIME_POINT_WORDS, send_now
from prolo.instruments.definitions import get
from prolo.registry import models as m
from prolo.security.policy import visible
from prolo.security.principal import Principal
from prolo.settings import get_settings
from prolo.web.deps import FormDep, SessionDep
from prolo.web.render import page_user, render

router = APIRouter(include_in_schema=False)
FOLLOWUP_ROLES = frozenset({"admin", "coordinator", "clinician"})
FollowupUser = Depends(page_user(FOLLOWUP_ROLES))
STATES = ("upcoming", "open", "overdue", "missed", "answered")
DEFAULT_STATES = ("open", "overdue")
PAGE_SIZE = 50
NOTICES = {
    "invitation": "The invitation was sent.",
    "reminder": "The reminder was sent.",
    "phone": "The questionnaire taken by telephone was saved and scored.",
}


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.strip().isdigit() else None


def choices(db: Session, actor: Principal) -> dict[str, Any]:
    """Sites and practitioners the actor may filter by (their own sites only)."""
    sites = db.execute(
        select(m.Site.id, m.Site.name).where(visible(actor, m.Site)).order_by(m.Site.name)
    ).all()
    practitioners = db.execute(
        select(m.Practitioner.id, m.Practitioner.name)
        .where(visible(actor, m.Practitioner), m.Practitioner.retired_at.is_(None))
        .order_by(m.Practitioner.name)
    ).all()
    return {
        "sites": [(row.id, row.name) for row in sites],
        "practitioners": [(row.id, row.name) for row in practitioners],
        "time_points": service.schedule(db).names(),
    }


def _worklist_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    query = request.query_params
    states = [s for s in query.getlist("state") if s in STATES] or list(DEFAULT_STATES)
    filters = service.WorklistFilters(
        site_id=_int_or_none(query.get("site_id")),
        practitioner_id=_int_or_none(query.get("practitioner_id")),
        time_point=query.get("time_point") or None,
        states=frozenset(states),
    )
    page = max(_int_or_none(query.get("page")) or 1, 1)
    today = dt.date.today()
    listing = service.worklist(
        db,
        actor=principal,
        today=today,
        filters=filters,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    by = query.get("by") or "time_point"
    if by not in GROUPINGS:
        by = "time_point"
    known = choices(db, principal)
    labels: dict[str, str] = {
        "site": {str(k): v for k, v in known["sites"]},
        "practitioner": {str(k): v for k, v in known["practitioners"]},
        "time_point": {k: TIME_POINT_WORDS.get(k, k) for k in known["time_points"]},
    }[by]
    rows = [
        {**c.as_dict(), "label": labels.get(c.key, c.key)}
        for c in completeness(db, actor=principal, today=today, by=by)
    ]
    kept = [(k, v) for k, v in query.multi_items() if k not in ("page", "notice")]
    last_page = max((listing.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render(
        request,
        "followup_worklist.html",
        principal,
        db=db,
        status_code=status_code,
        listing=listing,
        states=states,
        all_states=STATES,
        filters=filters,
        by=by,
        groupings=GROUPINGS,
        completeness_rows=rows,
        site_labels=dict(known["sites"]),
        practitioner_labels=dict(known["practitioners"]),
        time_point_words=TIME_POINT_WORDS,
        page=page,
        last_page=last_page,
        previous_query=urlencode([*kept, ("page", str(page - 1))]),
        next_query=urlencode([*kept, ("page", str(page + 1))]),
        here=request.url.path + ("?" + str(request.url.query) if request.url.query else ""),
        notice=NOTICES.get(query.get("notice") or ""),
        problem=problem,
        today=today,
        **known,
    )


@router.get("/app/followup", response_class=HTMLResponse)
def followup_worklist(
    request: Request, db: SessionDep, principal: Principal = FollowupUser
) -> Response:
    return _worklist_page(request, db, principal)


def _local(back: object) -> str:
    """A worklist address to return to; anything else (another site, a script) is dropped."""
    if isinstance(back, str) and back.startswith("/app/followup") and "//" not in back:
        return back
    return "/app/followup"


def _back(form: Any, notice: str) -> RedirectResponse:
    """Back to the worklist the action was taken from, with a notice."""
    back = _local(form.get("back"))
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}notice={notice}", status_code=303)


@router.post("/app/followup/{due_id}/send", response_class=HTMLResponse)
def followup_send(
    due_id: int,
    request: Request,
    db: SessionDep,
    form: FormDep,
    principal: Principal = FollowupUser,
) -> Response:
    try:
        kind = send_now(db, due_id, actor=principal, today=dt.date.today(), settings=get_settings())
    except DomainError as error:
        db.rollback()
        reasons = "; ".join(e.reason for e in error.errors) or error.title
        return _worklist_page(
            request, db, principal, problem=f"{error.title}: {reasons}.", status_code=error.status
        )
    except (OSError, smtplib.SMTPException) as error:
        db.rollback()
        return _worklist_page(
            request,
            db,
            principal,
            problem=f"Nothing was sent: the mail server did not accept the letter ({error}).",
            status_code=502,
        )
    db.commit()
    return _back(form, kind)


def _phone_page(
    request: Request,
    db: Session,
    principal: Principal,
    row: service.DueRow,
    **extra: Any,
) -> Response:
    return render(
        request,
        "followup_phone.html",
        principal,
        db=db,
        row=row,
        when=TIME_POINT_WORDS.get(row.due.time_point, row.due.time_point),
        instruments=[get(code) for code in row.due.instruments],
        answers=extra.pop("answers", {}),
        assessed_on=extra.pop("assessed_on", dt.date.today().isoformat()),
        back=_local(extra.pop("back", "")),
        **extra,
    )


@router.get("/app/followup/{due_id}/phone", response_class=HTMLResponse)
def followup_phone_form(
    due_id: int, request: Request, db: SessionDep, principal: Principal = FollowupUser
) -> Response:
    try:
        row = service.due_row(db, due_id, actor=principal, today=dt.date.today())
    except DomainError as error:
        return render(
            request, "error.html", principal, db=db, title=error.title, status_code=error.status
        )
    return _phone_page(request, db, principal, row, back=request.query_params.get("back", ""))


@router.post("/app/followup/{due_id}/phone", response_class=HTMLResponse)
def followup_phone_submit(
    due_id: int,
    request: Request,
    db: SessionDep,
    form: FormDep,
    principal: Principal = FollowupUser,
) -> Response:
    today = dt.date.today()
    try:
        row = service.due_row(db, due_id, actor=principal, today=today)
    except DomainError as error:
        return render(
            request, "error.html", principal, db=db, title=error.title, status_code=error.status
        )
    answers = answers_for(form, row.due.instruments)
    raw_date = form.get("assessed_on")
    errors: list[dict[str, str]] = []
    try:
        assessed_on = dt.date.fromisoformat(raw_date if isinstance(raw_date, str) else "")
    except ValueError:
        assessed_on = today
        errors.append({"field": "assessed_on", "reason": "give the date as YYYY-MM-DD"})
    if not errors and assessed_on > today:
        errors.append({"field": "assessed_on", "reason": f"{assessed_on} is in the future"})
    if not errors:
        try:
            record_by_phone(db, due_id, answers, actor=principal, assessed_on=assessed_on)
        except DomainError as error:
            db.rollback()
            errors = [e.as_dict() for e in error.errors] or [
                {"field": "due_id", "reason": error.title}
            ]
    if errors:
        row = service.due_row(db, due_id, actor=principal, today=today)
        response = _phone_page(
            request,
            db,
            principal,
            row,
            errors=errors,
            answers=answers,
            assessed_on=raw_date if isinstance(raw_date, str) else "",
            back=form.get("back") or "",
        )
        response.status_code = 422
        return response
    db.commit()
    return _back(form, "phone")

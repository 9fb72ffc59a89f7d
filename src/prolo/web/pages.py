"""HTML pages for staff: log in and out, the dashboard, patients and their courses.

Each page shows what a JSON endpoint of the API also returns; pages use the browser session
(cookie + CSRF token on every form), never bearer tokens.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from prolo.errors import DomainError
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from prolo.security import login
from prolo.security.principal import Principal
from prolo.security.service import Unauthenticated
from prolo.settings import get_settings
from prolo.web.deps import SESSION_COOKIE, OptionalUser, SessionDep
from prolo.web.render import render, templates

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, principal: Principal | None, **context: Any) -> Response:
    return render(request, name, principal, **context)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/app", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _render(request, "login.html", None)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        user = login.check_password(db, username=username, password=password)
    except Unauthenticated as error:
        db.commit()  # failures and locks are kept
        response = _render(request, "login.html", None, error=error.title, username=username)
        response.status_code = 401
        return response
    started = login.start_session(db, user)
    db.commit()
    redirect = RedirectResponse("/app", status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        started.cookie,
        httponly=True,
        secure=get_settings().cookie_secure,
        samesite="strict",
        path="/",
    )
    return redirect


@router.post("/logout")
def logout(request: Request, db: SessionDep, principal: OptionalUser) -> Response:
    # OptionalUser has checked the CSRF token of the form
    if principal is not None:
        login.end_session(db, request.cookies[SESSION_COOKIE])
        db.commit()
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/app", response_class=HTMLResponse)
def dashboard(request: Request, db: SessionDep, principal: OptionalUser) -> Response:
    if principal is None:
        return _to_login()
    counts = []
    if principal.role != "researcher":
        for name, label in (
            ("patient", "Patients"),
            ("treatment_course", "Courses"),
            ("injection_session", "Injection sessions"),
        ):
            page = service.list_records(db, ENTITIES[name], actor=principal, limit=1)
            counts.append((label, page.total))
    from prolo.security.models import User

    user = db.scalars(select(User).where(User.username == principal.username)).first()
    return _render(
        request,
        "dashboard.html",
        principal,
        counts=counts,
        must_change_password=bool(user and user.must_change_password),
    )


@router.get("/app/patients", response_class=HTMLResponse)
def patients(request: Request, db: SessionDep, principal: OptionalUser) -> Response:
    if principal is None:
        return _to_login()
    page = service.list_records(
        db, ENTITIES["patient"], actor=principal, sort="external_id", limit=200
    )
    return _render(request, "patients.html", principal, page=page)


@router.get("/app/patients/{patient_id}", response_class=HTMLResponse)
def patient(request: Request, patient_id: int, db: SessionDep, principal: OptionalUser) -> Response:
    if principal is None:
        return _to_login()
    try:
        record = service.get_or_raise(db, ENTITIES["patient"], patient_id, actor=principal)
    except DomainError as error:
        response = _render(request, "error.html", principal, title=error.title)
        response.status_code = error.status
        return response
    courses = []
    for course in service.list_records(
        db, ENTITIES["treatment_course"], actor=principal, filters={"patient_id": str(record.id)}
    ).items:
        sessions = service.list_records(
            db,
            ENTITIES["injection_session"],
            actor=principal,
            filters={"course_id": str(course.id)},
            sort="session_date",
        ).items
        courses.append({**service.before_values(course), "sessions": sessions})
    return _render(request, "patient.html", principal, patient=record, courses=courses)


@router.get("/app/evidence", response_class=HTMLResponse)
def evidence(request: Request, db: SessionDep, principal: OptionalUser) -> Response:
    if principal is None:
        return _to_login()
    from prolo.evidence.trials import bundled_trials

    trials = [t.to_dict() for t in bundled_trials()]
    return _render(request, "evidence.html", principal, trials=trials)

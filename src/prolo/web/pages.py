"""The shell of the staff pages: log in and out, change the password, the home page, evidence.

Pages use the browser session (cookie + CSRF token on every form, the login form included),
never bearer tokens. Each domain keeps its own pages (``registry/pages.py``,
``followup/pages.py``...); this module holds what every signed-in user shares.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prolo.errors import DomainError
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from prolo.security import login
from prolo.security.models import User
from prolo.security.principal import Principal
from prolo.security.service import Unauthenticated, change_password
from prolo.settings import get_settings
from prolo.web.deps import SESSION_COOKIE, OptionalUser, SessionDep
from prolo.web.render import PageUser, render, templates

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)
# The login form's CSRF token before there is a session: a random value in a cookie that the
# form must echo (double submit), so another site cannot sign a browser into its own account.
LOGIN_CSRF_COOKIE = "prolo_login_csrf"


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/app", status_code=303)


def _login_page(request: Request, *, status_code: int = 200, **context: Any) -> Response:
    token = secrets.token_urlsafe(32)
    request.state.csrf_token = token
    response = render(request, "login.html", None, status_code=status_code, **context)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        secure=get_settings().cookie_secure,
        samesite="strict",
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not login.csrf_matches(expected, csrf_token):
        return _login_page(
            request,
            status_code=403,
            error="The login form expired or came from elsewhere; please log in again.",
            username=username,
        )
    try:
        user = login.check_password(db, username=username, password=password)
    except Unauthenticated as error:
        db.commit()  # failures and locks are kept
        return _login_page(request, status_code=401, error=error.title, username=username)
    started = login.start_session(db, user)
    db.commit()
    redirect = RedirectResponse(
        "/app/password" if user.must_change_password else "/app", status_code=303
    )
    redirect.set_cookie(
        SESSION_COOKIE,
        started.cookie,
        httponly=True,
        secure=get_settings().cookie_secure,
        samesite="strict",
        path="/",
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
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


def _must_change(db: SessionDep, principal: Principal) -> bool:
    user = db.get(User, principal.user_id) if principal.user_id is not None else None
    return bool(user and user.must_change_password)


@router.get("/app/password", response_class=HTMLResponse)
def password_form(request: Request, db: SessionDep, principal: PageUser) -> Response:
    return render(
        request, "password.html", principal, db=db, forced=_must_change(db, principal), errors={}
    )


@router.post("/app/password", response_class=HTMLResponse)
def password_submit(
    request: Request,
    db: SessionDep,
    principal: PageUser,
    old_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    """The service checks the old password and the policy; the page only checks the repeat."""
    user = db.get(User, principal.user_id) if principal.user_id is not None else None
    errors: dict[str, str] = {}
    if user is None:
        errors["old_password"] = "this account has no password to change"
    elif new_password != confirm_password:
        errors["confirm_password"] = "does not match the new password"
    else:
        try:
            change_password(db, user=user, old=old_password, new=new_password)
        except DomainError as error:
            errors = {e.field: e.reason for e in error.errors}
    if errors:
        return render(
            request,
            "password.html",
            principal,
            db=db,
            status_code=422,
            forced=_must_change(db, principal),
            errors=errors,
        )
    db.commit()
    return RedirectResponse("/app?changed=password", status_code=303)


@router.get("/app", response_class=HTMLResponse)
def dashboard(request: Request, db: SessionDep, principal: PageUser) -> Response:
    if principal.role == "clinician":
        from prolo.registry.pages import clinician_home

        return clinician_home(request, db, principal)
    counts = []
    if principal.role != "researcher":
        for name, label in (
            ("patient", "Patients"),
            ("treatment_course", "Courses"),
            ("injection_session", "Injection sessions"),
        ):
            page = service.list_records(db, ENTITIES[name], actor=principal, limit=1)
            counts.append((label, page.total))
    return render(
        request,
        "dashboard.html",
        principal,
        db=db,
        counts=counts,
        changed=request.query_params.get("changed"),
    )


@router.get("/app/evidence", response_class=HTMLResponse)
def evidence(request: Request, db: SessionDep, principal: PageUser) -> Response:
    from prolo.evidence.trials import bundled_trials

    trials = [t.to_dict() for t in bundled_trials()]
    return render(request, "evidence.html", principal, db=db, trials=trials)

"""Rendering staff pages: one template environment, the navigation bar, and the page gate.

Every page route takes a ``PageUser`` (or ``page_user(roles)``): someone not signed in is sent
to log in, someone who must change a one-time password is sent to change it, and a role that
may not use the page gets the error page with 403 saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from prolo.errors import DomainError
from prolo.security.principal import Principal
from prolo.web.deps import SESSION_COOKIE, OptionalUser, SessionDep
from prolo.web.nav import items_for

WEB_TEMPLATES = Path(__file__).parent / "templates"
# Each domain may keep its pages' templates in its own folder (prolo/<domain>/templates).
DOMAIN_TEMPLATES = sorted(
    str(path) for path in Path(__file__).parent.parent.glob("*/templates") if path.is_dir()
)

templates = Jinja2Templates(directory=WEB_TEMPLATES)
templates.env.loader = ChoiceLoader(
    [FileSystemLoader([str(WEB_TEMPLATES), *[p for p in DOMAIN_TEMPLATES if "/web/" not in p]])]
)
PASSWORD_PAGE = "/app/password"


def site_names(db: Session | None, principal: Principal | None) -> str:
    if db is None or principal is None or principal.all_sites or not principal.site_ids:
        return ""
    from prolo.registry.models import Site

    names = db.scalars(select(Site.name).where(Site.id.in_(principal.site_ids)).order_by(Site.name))
    return ", ".join(names)


def render(
    request: Request,
    name: str,
    principal: Principal | None,
    *,
    db: Session | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    response = templates.TemplateResponse(
        request,
        name,
        {
            "user": principal,
            "csrf_token": getattr(request.state, "csrf_token", ""),
            "nav_items": items_for(principal.role if principal else None),
            "site_names": site_names(db, principal),
            **context,
        },
    )
    response.status_code = status_code
    return response


class SignInRequired(Exception):
    """The page needs a signed-in user."""


class PasswordChangeRequired(Exception):
    """The user signed in with a one-time password and must choose their own first."""


class PageForbidden(Exception):
    def __init__(self, principal: Principal, reason: str) -> None:
        super().__init__(reason)
        self.principal = principal
        self.reason = reason


def _must_change_password(db: Session, principal: Principal) -> bool:
    from prolo.security.models import User

    if principal.user_id is None:
        return False
    flag = db.scalar(select(User.must_change_password).where(User.id == principal.user_id))
    return bool(flag)


def page_user(roles: Iterable[str] | None = None) -> Callable[..., Principal]:
    """A dependency giving the signed-in user of a page that ``roles`` (default: all) may use."""
    allowed = frozenset(roles) if roles is not None else None

    def dependency(request: Request, db: SessionDep, principal: OptionalUser) -> Principal:
        if principal is None:
            raise SignInRequired()
        if request.url.path != PASSWORD_PAGE and _must_change_password(db, principal):
            raise PasswordChangeRequired()
        if allowed is not None and principal.role not in allowed:
            raise PageForbidden(principal, f"the {principal.role} role cannot use this page")
        return principal

    return dependency


def _page_or(api_handler: Any) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, error: Exception) -> Response:
        if api_handler is None or is_page(request):
            # the database is read in a worker thread, never on the event loop
            principal = await run_in_threadpool(_signed_in, request)
            return _error_page(request, error, principal)
        response: Response = await api_handler(request, error)
        return response

    return handler


PageUser = Annotated[Principal, Depends(page_user())]


def is_page(request: Request) -> bool:
    """Whether the request is for a page (HTML) rather than the API (problem+json)."""
    path = request.url.path
    return path in ("/", "/login") or path == "/app" or path.startswith("/app/")


def _signed_in(request: Request) -> Principal | None:
    """Who is signed in, for the error page's navigation bar; read only. Routes that ran have
    left it on the request; an unknown address ran none, so the cookie is looked up here."""
    principal: Principal | None = getattr(request.state, "principal", None)
    cookie = request.cookies.get(SESSION_COOKIE)
    factory = getattr(request.app.state, "session_factory", None)
    if principal is not None or not cookie or factory is None:
        return principal
    from prolo.security.login import resume_session
    from prolo.security.service import Unauthenticated
    from prolo.settings import get_settings

    with factory() as db:
        try:
            idle = get_settings().session_idle_minutes
            return resume_session(db, cookie, idle_minutes=idle, record=False).principal
        except Unauthenticated:
            return None


def _error_page(request: Request, error: Exception, principal: Principal | None) -> Response:
    """The error page of a page request, naming what went wrong (and the field, if any)."""
    if isinstance(error, DomainError):
        status, title = error.status, error.title
        errors = [e.as_dict() for e in error.errors]
    elif isinstance(error, RequestValidationError):
        from prolo.web.problems import field_path

        status, title = 422, "The address or form is not valid"
        errors = [
            {"field": field_path(tuple(e.get("loc", ()))), "reason": e.get("msg", "invalid")}
            for e in error.errors()
        ]
    else:
        assert isinstance(error, StarletteHTTPException)
        status, errors = error.status_code, []
        title = "Page not found" if status == 404 else str(error.detail)
    message = {
        404: "There is no such page, or the record is not at one of your sites.",
        403: "You may not do this.",
        409: "This conflicts with the record as it stands.",
    }.get(status)
    return render(
        request,
        "error.html",
        principal,
        status_code=status,
        title=title,
        message=message,
        errors=errors,
    )


def install(app: FastAPI) -> None:
    """Turn the page gate's exceptions into a redirect or the error page; errors raised by a
    page route become the error page, while the API keeps its problem+json (installed first)."""

    def to_login(request: Request, error: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    def to_password(request: Request, error: Exception) -> Response:
        return RedirectResponse(PASSWORD_PAGE, status_code=303)

    def forbidden(request: Request, error: Exception) -> Response:
        assert isinstance(error, PageForbidden)
        return render(
            request,
            "error.html",
            error.principal,
            status_code=403,
            title="Not allowed",
            message=f"This page is not available to you: {error.reason}.",
        )

    for kind in (DomainError, RequestValidationError, StarletteHTTPException):
        api_handler = app.exception_handlers.get(kind)
        app.add_exception_handler(kind, _page_or(api_handler))
    app.add_exception_handler(SignInRequired, to_login)
    app.add_exception_handler(PasswordChangeRequired, to_password)
    app.add_exception_handler(PageForbidden, forbidden)

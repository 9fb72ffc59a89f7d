"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from prolo.errors import DomainError

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, title: str, errors: list[dict[str, str]] | None = None, detail: str | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
        if not detail and errors:
            body["detail"] = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def field_path(location: tuple[Any, ...]) -> str:
    """A validation error's location as the API names the field: ``targets[0].levels``."""
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or "body"


async def _validation(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"field": field_path(tuple(e.get("loc", ()))), "reason": e.get("msg", "invalid")}
        for e in error.errors()
    ]
    return problem(422, "Invalid input", errors)


async def _domain(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    response = problem(error.status, error.title, [e.as_dict() for e in error.errors])
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _http(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    response = problem(error.status_code, str(error.detail))
    for key, value in (error.headers or {}).items():
        response.headers[key] = value
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(HTTPException, _http)

"""The patient's questionnaire page: opened from an e-mailed link, no account, phone-sized,
works without scripts, keeps partial answers, and says plainly when a link cannot be used."""

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from prolo.errors import DomainError
from prolo.followup.answers import LinkProblem, OpenLink, open_link, save_draft, submit
from prolo.followup.sending import TIME_POINT_WORDS
from prolo.instruments.definitions import get
from prolo.web.deps import FormDep, SessionDep
from prolo.web.pages import templates

router = APIRouter(include_in_schema=False)
TITLES = {
    "unknown": "Link not valid",
    "used": "Already answered",
    "replaced": "Newer link sent",
    "expired": "Link expired",
}
STATUS = {"unknown": 404, "used": 410, "replaced": 410, "expired": 410}


def _problem(request: Request, problem: LinkProblem) -> Response:
    response = templates.TemplateResponse(
        request,
        "questionnaire_message.html",
        {"user": None, "title": TITLES[problem.kind], "message": problem.message},
    )
    response.status_code = STATUS[problem.kind]
    return response


def _page(request: Request, token: str, link: OpenLink, **extra: Any) -> Response:
    return templates.TemplateResponse(
        request,
        "questionnaire.html",
        {
            "user": None,
            "token": token,
            "instruments": [get(code) for code in link.due.instruments],
            "when": TIME_POINT_WORDS.get(link.due.time_point),
            "draft": link.invitation.draft or {},
            **extra,
        },
    )


@router.get("/q/{token}", response_class=HTMLResponse)
def questionnaire(token: str, request: Request, db: SessionDep) -> Response:
    try:
        link = open_link(db, token)
    except LinkProblem as problem:
        return _problem(request, problem)
    return _page(request, token, link)


def answers_from(form: FormData, link: OpenLink) -> dict[str, list[Any]]:
    """Form fields ``CODE__n`` → answers; an unticked statement is "no", an unanswered
    question is missing, "prefer not to answer" is refused."""
    return answers_for(form, link.due.instruments)


def answers_for(form: FormData, instruments: list[str]) -> dict[str, list[Any]]:
    """The answers to ``instruments`` in a form whose fields are named ``CODE__n``."""
    answers: dict[str, list[Any]] = {}
    for code in instruments:
        values: list[Any] = []
        for n, item in enumerate(get(code).items):
            field = form.get(f"{code}__{n}")
            raw = field if isinstance(field, str) else None
            if item.kind == "boolean":
                values.append(raw == "true")
            elif raw is None or raw == "":
                values.append("missing")
            elif raw == "refused":
                values.append("refused")
            else:
                values.append(int(raw) if raw.lstrip("-").isdigit() else raw)
        answers[code] = values
    return answers


@router.post("/q/{token}", response_class=HTMLResponse)
def answer(token: str, request: Request, db: SessionDep, form: FormDep) -> Response:
    # The field names depend on the instruments due (CODE__n), hence the whole form.
    try:
        link = open_link(db, token)
    except LinkProblem as problem:
        return _problem(request, problem)
    answers = answers_from(form, link)
    if form.get("action") == "save":
        save_draft(db, link, answers)
        db.commit()
        return _page(request, token, link, saved=True)
    try:
        submit(db, link, answers, dt.date.today())
    except DomainError as error:  # answers are all checked before anything is written
        response = _page(request, token, link, errors=[e.as_dict() for e in error.errors])
        response.status_code = 422
        return response
    db.commit()
    return templates.TemplateResponse(
        request,
        "questionnaire_message.html",
        {
            "user": None,
            "title": "Thank you",
            "message": "Your answers are saved. You can close this page.",
        },
    )


@router.get("/q/{token}/about", response_class=HTMLResponse)
def about_practitioner(token: str, request: Request, db: SessionDep) -> Response:
    """The practitioner's recorded training and experience, questions worth asking, and the
    organizations a patient may contact. Reading it does not use up the link."""
    from prolo.followup.practitioner_info import practitioner_info

    try:
        link = open_link(db, token)
    except LinkProblem as problem:
        return _problem(request, problem)
    info = practitioner_info(db, link.course.practitioner_id)
    return templates.TemplateResponse(
        request, "practitioner_about.html", {"user": None, "token": token, **info}
    )

"""Public pages that need no account: what prolotherapy is, the registry's own figures beside
the trials, questions to ask before prolotherapy, and a practitioner's public profile.

They never show a patient: only counts over courses and a practitioner's own records. The
setting ``PROLO_PUBLIC_PAGES=false`` answers every one of them 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from prolo.public import figures
from prolo.settings import get_settings
from prolo.web.deps import SessionDep
from prolo.web.render import render

router = APIRouter(include_in_schema=False)


def _not_found(request: Request, message: str) -> Response:
    return render(request, "error.html", None, status_code=404, title="Not found", message=message)


def _off(request: Request) -> Response | None:
    """The 404 page when the registry has turned its public pages off, else None."""
    if get_settings().public_pages:
        return None
    return _not_found(request, "This registry does not publish public pages.")


def _database_url(request: Request) -> str:
    return str(request.app.state.engine.url.render_as_string(hide_password=False))


@router.get("/about", response_class=HTMLResponse)
def about(request: Request) -> Response:
    if off := _off(request):
        return off
    from prolo.evidence.trials import bundled_trials

    trials = {(t.first_author, t.year, t.citation) for t in bundled_trials()}
    return render(
        request,
        "public/about.html",
        None,
        public_nav=True,
        trials=sorted(trials, key=lambda t: t[1]),
        pooled=figures.pooled_odds_ratios(),
        arms=figures.trial_rates(),
    )


@router.get("/about/figures", response_class=HTMLResponse)
def registry_figures(request: Request) -> Response:
    if off := _off(request):
        return off
    from prolo.evidence.registry_beside_trials import CAVEAT

    result = figures.registry_figures(_database_url(request))
    return render(
        request,
        "public/figures.html",
        None,
        public_nav=True,
        figures=result,
        max_age=figures.CACHE_SECONDS,
        pooled=figures.pooled_odds_ratios(),
        arms=figures.trial_rates(),
        caveat=CAVEAT,
    )


@router.get("/about/questions", response_class=HTMLResponse)
def questions(request: Request) -> Response:
    if off := _off(request):
        return off
    return render(request, "public/questions.html", None, public_nav=True)


@router.get("/about/practitioners/{practitioner_id}", response_class=HTMLResponse)
def practitioner(request: Request, practitioner_id: int, db: SessionDep) -> Response:
    from prolo.followup.practitioner_info import practitioner_info
    from prolo.registry import models as m

    if off := _off(request):
        return off
    record = db.get(m.Practitioner, practitioner_id)
    if record is None or record.retired_at is not None:
        return _not_found(request, f"There is no practitioner {practitioner_id}.")
    info = practitioner_info(db, practitioner_id)
    courses = db.scalar(
        select(func.count())
        .select_from(m.TreatmentCourse)
        .where(
            m.TreatmentCourse.practitioner_id == practitioner_id,
            m.TreatmentCourse.retired_at.is_(None),
        )
    )
    # the registry's cached figures hold every practitioner's (computed in the background)
    registry = figures.registry_figures(_database_url(request))
    figure = registry.practitioner(practitioner_id) if registry is not None else None
    return render(
        request,
        "public/practitioner.html",
        None,
        public_nav=True,
        courses=courses or 0,
        figure=figure,
        **info,
    )

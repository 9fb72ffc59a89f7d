"""The outcome dashboard: the report's estimand table and figures for one success definition,
filtered by site, region and practitioner, with the completeness warning.

The report reads every course and runs multiple imputation, which takes seconds to minutes on a
large registry, so it is computed once in the background (a child process) and kept for
``FRESH_FOR``; the
page shows how long the computation has run (htmx polls for it; without scripts a link reloads)
and, once ready, when it was computed. Only aggregates are shown: no page here carries a
patient's name, birth date or identifier, since researchers open it.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.outcomes.definitions import parse
from prolo.outcomes.extract import Filters
from prolo.registry import models as m
from prolo.registry.vocabulary import terms
from prolo.reports.build import DEFAULT_DEFINITIONS, OutcomeReport, dashboard_report
from prolo.security.policy import visible
from prolo.security.principal import Principal
from prolo.web.deps import SessionDep
from prolo.web.render import PageUser, render

router = APIRouter(include_in_schema=False)
DEFINITION_CHOICES = (
    *DEFAULT_DEFINITIONS,
    "pain50@3m",
    "odi30@6m",
    "odi10pt@6m",
    "ndi30@6m",
    "pgic@6m",
    "composite@12m",
)
FRESH_FOR = dt.timedelta(minutes=15)
KEEP = 32  # reports kept in memory, the least recently computed dropped first
SITE_BOUND_ROLES = frozenset({"clinician", "coordinator"})

Key = tuple[str, str, tuple[int, ...], tuple[int, ...], tuple[str, ...]]


@dataclass
class Computation:
    started: dt.datetime
    finished: dt.datetime | None = None
    report: OutcomeReport | None = None
    figures: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None


_reports: OrderedDict[Key, Computation] = OrderedDict()
_reports_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _figures(report: OutcomeReport) -> dict[str, str]:
    from prolo.reports import figures

    made = {"estimands": figures.svg(figures.estimands_against_claim(report.tables[0]))}
    if "flow" in report.sections:
        made["flow"] = figures.svg(figures.flow(report.sections["flow"]))
    for t in report.trajectories:
        made[f"trajectory_{t.measure}"] = figures.svg(figures.trajectory(t.rows, t.measure))
    for adjusted in report.sensitivity:
        if adjusted.grid:
            made["sensitivity"] = figures.svg(figures.sensitivity(adjusted, report.claim_band))
    return made


Computed = tuple[OutcomeReport, dict[str, str], dict[str, str]]


def dashboard_with_figures(key: Key) -> Computed:
    """The dashboard's report, its figures as SVG and the estimands' labels; runs in the child
    process, so that the server never imports matplotlib (seconds on a busy machine)."""
    from prolo.reports.figures import LABELS

    url, definition, sites, practitioners, regions = key
    report = dashboard_report(
        url, definition=definition, filters=Filters(sites, practitioners, regions)
    )
    return report, _figures(report), dict(LABELS)


def _pool() -> ProcessPoolExecutor:
    """One child process computes the reports, one at a time: the statistics hold the GIL
    for long stretches, and in a thread of the server they would stall every other request
    for as long as the report takes. Started lazily with "spawn" (forking a threaded server
    is unsafe)."""
    global _executor
    with _reports_lock:
        if _executor is None:
            _executor = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        return _executor


def _start(key: Key, computation: Computation) -> None:
    def done(future: Future[Computed]) -> None:
        try:
            computation.report, computation.figures, computation.labels = future.result()
        except Exception as error:  # shown on the page instead of a report that never arrives
            computation.error = f"{type(error).__name__}: {error}"
        finally:
            computation.finished = _now()

    try:
        future = _pool().submit(dashboard_with_figures, key)
    except RuntimeError as error:  # the pool broke (its child died): start a new one
        global _executor
        with _reports_lock:
            _executor = None
        computation.error, computation.finished = f"the report's process stopped: {error}", _now()
        return
    future.add_done_callback(done)


def computation_for(key: Key, *, recompute: bool = False) -> Computation:
    """The kept report for ``key``, starting a computation when there is none, it is older
    than ``FRESH_FOR``, or a recomputation was asked for (never while one runs)."""
    with _reports_lock:
        found = _reports.get(key)
        stale = (
            found is not None
            and found.finished is not None
            and (recompute or found.error is not None or _now() - found.finished > FRESH_FOR)
        )
        if found is not None and not stale:
            return found
        computation = Computation(started=_now())
        _reports[key] = computation
        _reports.move_to_end(key)
        while len(_reports) > KEEP:
            _reports.popitem(last=False)
    _start(key, computation)
    return computation


@dataclass(frozen=True)
class Choice:
    definition: str
    site_id: int | None
    practitioner_id: int | None
    region: str | None
    errors: dict[str, str]


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.strip().isdigit() else None


def _choice(request: Request) -> Choice:
    query = request.query_params
    definition = (query.get("definition") or DEFAULT_DEFINITIONS[0]).strip()
    errors = {}
    try:
        parse(definition)
    except ValueError as error:
        errors["definition"] = str(error)
    return Choice(
        definition,
        _int_or_none(query.get("site_id")),
        _int_or_none(query.get("practitioner_id")),
        query.get("region") or None,
        errors,
    )


def _key(request: Request, principal: Principal, choice: Choice) -> Key:
    url = request.app.state.engine.url.render_as_string(hide_password=False)
    sites = [choice.site_id] if choice.site_id is not None else []
    # As in the API: clinicians and coordinators see their own sites' results only;
    # researchers and administrators see every site's aggregate figures.
    if principal.role in SITE_BOUND_ROLES:
        sites = [s for s in sites if s in principal.site_ids] or sorted(principal.site_ids)
    return (
        url,
        choice.definition,
        tuple(sites),
        (choice.practitioner_id,) if choice.practitioner_id is not None else (),
        (choice.region,) if choice.region else (),
    )


def _options(db: Session, principal: Principal) -> dict[str, Any]:
    site_query = select(m.Site.id, m.Site.name).order_by(m.Site.name)
    practitioner_query = (
        select(m.Practitioner.id, m.Practitioner.name)
        .where(m.Practitioner.retired_at.is_(None))
        .order_by(m.Practitioner.name)
    )
    if principal.role in SITE_BOUND_ROLES:
        site_query = site_query.where(visible(principal, m.Site))
        practitioner_query = practitioner_query.where(visible(principal, m.Practitioner))
    return {
        "sites": [(r.id, r.name) for r in db.execute(site_query)],
        "practitioners": [(r.id, r.name) for r in db.execute(practitioner_query)],
        "regions": [(t.code, t.label) for t in terms(db, "region")],
        "definitions": DEFINITION_CHOICES,
    }


def _query_without(request: Request, *names: str) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in names])


def _result_context(request: Request, computation: Computation) -> dict[str, Any]:
    now = _now()
    return {
        "computation": computation,
        "report": computation.report,
        "table": computation.report.tables[0] if computation.report else None,
        "figures": computation.figures,
        "labels": computation.labels,
        "elapsed": int((now - computation.started).total_seconds()),
        "age_minutes": int((now - computation.finished).total_seconds() // 60)
        if computation.finished
        else None,
        "query": _query_without(request, "recompute"),
    }


@router.get("/app/reports", response_class=HTMLResponse)
def reports_dashboard(request: Request, db: SessionDep, principal: PageUser) -> Response:
    choice = _choice(request)
    context: dict[str, Any] = {"choice": choice, **_options(db, principal)}
    if choice.errors:
        return render(
            request, "reports_dashboard.html", principal, db=db, status_code=422, **context
        )
    computation = computation_for(
        _key(request, principal, choice), recompute=request.query_params.get("recompute") == "1"
    )
    context.update(_result_context(request, computation))
    return render(request, "reports_dashboard.html", principal, db=db, **context)


@router.get("/app/reports/result", response_class=HTMLResponse)
def reports_result(request: Request, principal: PageUser) -> Response:
    """The report's part of the page: progress while it is computed, then the results."""
    choice = _choice(request)
    if choice.errors:
        return render(
            request,
            "error.html",
            principal,
            status_code=422,
            title="Not a success definition",
            message=choice.errors["definition"],
        )
    computation = computation_for(_key(request, principal, choice))
    return render(
        request, "reports_result.html", principal, **_result_context(request, computation)
    )


@router.get("/app/reports/figure/{name}.svg")
def reports_figure(name: str, request: Request, principal: PageUser) -> Response:
    """A figure of a computed report as an image: the pages' Content-Security-Policy forbids
    the inline styles of an SVG drawn inside the page."""
    choice = _choice(request)
    with _reports_lock:
        found = _reports.get(_key(request, principal, choice)) if not choice.errors else None
    if found is None or name not in found.figures:
        return Response("no such figure; open the dashboard first", status_code=404)
    return Response(
        found.figures[name],
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=900"},
    )

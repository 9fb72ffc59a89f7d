"""What the patient chart and the clinician's home page show, read through the service layer
(site scoping included): the records of one patient on a timeline, the score trajectories,
and the clinician's own patients, due follow-ups and outcome figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.registry import service
from prolo.registry.entities import ENTITIES
from prolo.security.policy import visible
from prolo.security.principal import Principal


@dataclass
class Event:
    """One line of the timeline."""

    on: dt.date | None
    kind: str
    summary: str
    href: str
    anchor: str


@dataclass
class CourseView:
    course: Any
    sessions: list[Any] = field(default_factory=list)
    co_interventions: list[Any] = field(default_factory=list)
    adverse_events: list[Any] = field(default_factory=list)
    recurrences: list[Any] = field(default_factory=list)


@dataclass
class Chart:
    conditions: list[Any]
    prior_treatments: list[Any]
    courses: list[CourseView]
    work_statuses: list[Any]
    objective_measures: list[Any]
    assessments: list[Any]
    timeline: list[Event]
    warnings: list[tuple[int, str]]
    trajectories: list[dict[str, str]] = field(default_factory=list)


def _all(db: Session, name: str, actor: Principal, **filters: int) -> list[Any]:
    return service.list_records(
        db,
        ENTITIES[name],
        actor=actor,
        filters={k: str(v) for k, v in filters.items()},
        limit=service.MAX_PAGE,
    ).items


def assessments_of(db: Session, patient_id: int, actor: Principal) -> list[Any]:
    from prolo.assessments.models import Assessment

    return list(
        db.scalars(
            select(Assessment)
            .where(
                Assessment.patient_id == patient_id,
                visible(actor, Assessment),
                Assessment.retired_at.is_(None),
            )
            .order_by(Assessment.assessed_on, Assessment.id)
        )
    )


def _href(name: str, record_id: int) -> str:
    return f"/app/records/{ENTITIES[name].path}/{record_id}"


def chart(db: Session, patient: Any, actor: Principal) -> Chart:
    pid = patient.id
    conditions = _all(db, "condition", actor, patient_id=pid)
    priors = _all(db, "prior_treatment", actor, patient_id=pid)
    courses = [
        CourseView(
            course,
            sessions=sorted(
                _all(db, "injection_session", actor, course_id=course.id),
                key=lambda s: s.session_date,
            ),
            co_interventions=_all(db, "co_intervention", actor, course_id=course.id),
            adverse_events=_all(db, "adverse_event", actor, course_id=course.id),
            recurrences=_all(db, "recurrence", actor, course_id=course.id),
        )
        for course in _all(db, "treatment_course", actor, patient_id=pid)
    ]
    work = _all(db, "work_status", actor, patient_id=pid)
    measures = _all(db, "objective_measure", actor, patient_id=pid)
    assessments = assessments_of(db, pid, actor)
    events: list[Event] = []

    def add(on: dt.date | None, name: str, record: Any, summary: str) -> None:
        kind = name.replace("_", " ")
        events.append(Event(on, kind, summary, _href(name, record.id), f"t-{name}-{record.id}"))

    for c in conditions:
        what = f"{c.icd10_code}, {c.region} ({c.diagnosis_confirmation})"
        add(c.onset_date, "condition", c, what)
    for p in priors:
        add(p.start_date, "prior_treatment", p, f"{p.treatment_type}: {p.result}")
    for view in courses:
        c = view.course
        add(
            c.start_date,
            "treatment_course",
            c,
            f"Course {c.id} starts ({c.status}), "
            f"{len(view.sessions)} of {c.planned_sessions} planned sessions",
        )
        for s in view.sessions:
            concentration = f" {s.concentration_percent}%" if s.concentration_percent else ""
            add(
                s.session_date,
                "injection_session",
                s,
                f"{s.agent}{concentration}, {s.total_volume_ml} ml, {s.injection_count} "
                f"injections, {s.guidance}; {targets_text(s.targets)}",
            )
        for co in view.co_interventions:
            add(co.start_date, "co_intervention", co, co.intervention_type)
        for ae in view.adverse_events:
            serious = ", serious" if ae.serious else ""
            add(ae.onset_date, "adverse_event", ae, f"{ae.event_type}, grade {ae.grade}{serious}")
        for r in view.recurrences:
            add(r.event_date, "recurrence", r, r.kind)
    for w in work:
        add(w.recorded_on, "work_status", w, w.status)
    for m in measures:
        value = f" {m.value:g} {m.unit or ''}".rstrip() if m.value is not None else ""
        add(m.measured_on, "objective_measure", m, f"{m.measure_type}{value} ({m.method})")
    for a in assessments:
        score = "no score" if a.score is None else f"score {a.score:g}"
        point = f" at {a.time_point}" if a.time_point else ""
        events.append(
            Event(
                a.assessed_on,
                "questionnaire",
                f"{a.instrument}{point}: {score}",
                f"/app/assessments/{a.id}",
                f"t-assessment-{a.id}",
            )
        )
    events.sort(key=lambda e: (e.on or dt.date.min, e.kind))
    warnings = [
        (view.course.id, warning)
        for view in courses
        for warning in view.course.eligibility_warnings or []
    ]
    return Chart(
        conditions,
        priors,
        courses,
        work,
        measures,
        assessments,
        events,
        warnings,
        trajectories(assessments),
    )


TRAJECTORY_INSTRUMENTS = ("NRS", "ODI", "NDI")


def trajectories(assessments: list[Any]) -> list[dict[str, str]]:
    """One figure per course and instrument (pain NRS, ODI, NDI) with a score to draw."""
    from prolo.assessments.trajectory import Point, important_change, svg
    from prolo.instruments.definitions import get

    groups: dict[tuple[int | None, str], list[Point]] = {}
    for a in assessments:
        if a.instrument in TRAJECTORY_INSTRUMENTS and a.score is not None:
            point = Point(a.assessed_on, float(a.score), a.time_point or a.assessed_on.isoformat())
            groups.setdefault((a.course_id, a.instrument), []).append(point)
    figures = []
    for (course_id, code), points in sorted(
        groups.items(), key=lambda g: (g[0][0] or 0, TRAJECTORY_INSTRUMENTS.index(g[0][1]))
    ):
        instrument = get(code)
        points.sort(key=lambda p: p.on)
        threshold = important_change(instrument, points[0].score)
        where = f"course {course_id}" if course_id else "no course"
        caption = (
            f"{instrument.name} ({where}): {points[0].score:g} at {points[0].label}, "
            f"latest {points[-1].score:g} at {points[-1].label}"
        )
        if threshold is not None:
            caption += f"; {threshold.text}"
        figures.append(
            {"svg": svg(instrument, points, key=f"-{course_id or 0}"), "caption": caption}
        )
    return figures


def targets_text(targets: list[dict[str, Any]] | None) -> str:
    parts = []
    for t in targets or []:
        levels = ", ".join(t.get("levels") or [])
        side = f" ({t['side']})" if t.get("side") else ""
        parts.append(f"{t.get('target')}{' ' + levels if levels else ''}{side}")
    return "; ".join(parts) or "no target recorded"


@dataclass
class Home:
    patients: list[Any]
    patient_total: int
    due: list[dict[str, Any]] = field(default_factory=list)
    figures: list[dict[str, Any]] | None = None  # None: not computed yet


def week_of(today: dt.date) -> tuple[dt.date, dt.date]:
    """Monday to Sunday of ``today``'s week."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday, monday + dt.timedelta(days=6)


def due_this_week(db: Session, actor: Principal, today: dt.date) -> list[dict[str, Any]]:
    """Unanswered follow-up questionnaires due this week at the actor's sites."""
    from prolo.followup.models import DueQuestionnaire
    from prolo.followup.service import state_of
    from prolo.registry import models as m

    monday, sunday = week_of(today)
    rows = db.execute(
        select(DueQuestionnaire, m.Patient.id, m.Patient.external_id)
        .join(m.TreatmentCourse, m.TreatmentCourse.id == DueQuestionnaire.course_id)
        .join(m.Patient, m.Patient.id == m.TreatmentCourse.patient_id)
        .where(
            visible(actor, m.Patient),
            m.TreatmentCourse.retired_at.is_(None),
            m.Patient.retired_at.is_(None),
            DueQuestionnaire.status != "answered",
            DueQuestionnaire.due_on.between(monday, sunday),
        )
        .order_by(DueQuestionnaire.due_on, DueQuestionnaire.id)
        .limit(200)
    )
    return [
        {
            "patient_id": patient_id,
            "external_id": external_id,
            "time_point": due.time_point,
            "due_on": due.due_on,
            "window_closes": due.window_closes,
            "status": state_of(due, today),
        }
        for due, patient_id, external_id in rows
    ]


HOME_DEFINITIONS = ("pain50@6m", "composite@6m")
FIGURE_TTL = dt.timedelta(minutes=10)
_figure_cache: dict[tuple[str, tuple[int, ...]], tuple[dt.datetime, list[dict[str, Any]]]] = {}


def cached_figures(url: str, site_ids: tuple[int, ...]) -> list[dict[str, Any]] | None:
    """The figures of these sites if computed within the last ten minutes, else None."""
    cached = _figure_cache.get((url, site_ids))
    if cached is not None and dt.datetime.now(dt.UTC) - cached[0] < FIGURE_TTL:
        return cached[1]
    return None


def outcome_figures(url: str, site_ids: tuple[int, ...]) -> list[dict[str, Any]]:
    """Success among followed courses at these sites with a Wilson 95% interval and its
    denominator; under the minimum volume only the count. The extraction reads the whole
    registry when the analysis store is stale, so the figures are kept ten minutes per site set
    and the home page fetches them separately (the page says when they were computed)."""
    from prolo.outcomes.definitions import evaluate, parse
    from prolo.outcomes.extract import Filters
    from prolo.outcomes.intervals import wilson
    from prolo.outcomes.practitioners import MINIMUM_VOLUME
    from prolo.outcomes.store import analysis_table

    key = (url, site_ids)
    moment = dt.datetime.now(dt.UTC)
    cached = _figure_cache.get(key)
    if cached is not None and moment - cached[0] < FIGURE_TTL:
        return cached[1]
    definitions = [parse(name) for name in HOME_DEFINITIONS]
    measures = sorted({m for d in definitions for m in d.measures})
    # From the analysis store (refreshed first when stale), as the reports read it.
    analysis = analysis_table(url, measures=measures, filters=Filters(site_ids=site_ids))
    table = analysis.table.to_pandas()
    figures = []
    for definition in definitions:
        evaluation = evaluate(definition, table) if len(table) else None
        followed = int(evaluation.observed.sum()) if evaluation is not None else 0
        successes = (
            int(evaluation.success[evaluation.observed].sum()) if evaluation is not None else 0
        )
        figure: dict[str, Any] = {
            "definition": definition.name,
            "describe": definition.describe(),
            "followed": followed,
            "computed_at": moment,
        }
        if followed < MINIMUM_VOLUME:
            figure["text"] = f"fewer than {MINIMUM_VOLUME} followed courses ({followed} so far)"
        else:
            low, high = wilson(successes, followed)
            figure["rate"] = successes / followed
            figure["text"] = (
                f"{successes / followed:.0%} (95% CI {low or 0:.0%}–{high or 0:.0%}), "
                f"{successes} of {followed} followed courses"
            )
        figures.append(figure)
    _figure_cache[key] = (moment, figures)
    return figures


def home(db: Session, actor: Principal, url: str) -> Home:
    """The home page's own reads; the outcome figures only when already computed."""
    recent = service.search_patients(db, actor=actor, limit=10)
    return Home(
        recent.items,
        recent.total,
        due=due_this_week(db, actor, dt.date.today()),
        figures=cached_figures(url, tuple(sorted(actor.site_ids))),
    )

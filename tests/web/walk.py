"""A small synthetic registry on the live server's database, a user per role at one of its
sites, and the values that fill the page catalogue's placeholders — shared by the browser walk
(axe, screenshots) and the journeys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from tests.web.conftest import LIVE_ADMIN_PASSWORD
from tests.web.page_catalogue import PAGES, CataloguedPage

WALK_PATIENTS = 40
WALK_SEED = 14
ROLES = ("admin", "clinician", "coordinator", "researcher")


@dataclass(frozen=True)
class WalkRegistry:
    """Who logs in as each role (username, password) and what fills each placeholder."""

    logins: dict[str, tuple[str, str]]
    values: dict[str, int | str]
    site_code: str
    patient_names: list[str] = field(default_factory=list)

    def fill(self, page: CataloguedPage) -> str:
        missing = set(re.findall(r"\{(\w+)\}", page.path)) - set(self.values)
        assert not missing, (
            f"the walk has no value for {sorted(missing)} in {page.path}: add it to "
            "tests/web/walk.py (walk_registry)"
        )
        return page.path.format(**self.values)


def _first(db: Any, query: Any) -> int:
    found = db.scalar(query.limit(1))
    assert found is not None, f"the synthetic registry has nothing for {query}"
    return int(found)


_BUILT: dict[str, WalkRegistry] = {}


@pytest.fixture(scope="session")
def walk_registry(live_database: str) -> WalkRegistry:
    """A 40-patient synthetic registry plus one user per role at its first site. Built once
    per database: each test module that imports the fixture holds its own copy of it."""
    if live_database not in _BUILT:
        _BUILT[live_database] = _build(live_database)
    return _BUILT[live_database]


def _build(live_database: str) -> WalkRegistry:
    from prolo.assessments.models import Assessment
    from prolo.db import engine_for, transaction
    from prolo.followup import service as followup
    from prolo.followup.models import DueQuestionnaire
    from prolo.registry import models as m
    from prolo.security import service as security
    from prolo.security.principal import system
    from prolo.synth import params, run

    run.to_database(live_database, WALK_PATIENTS, WALK_SEED, params.load(None))
    logins = {"admin": ("admin", LIVE_ADMIN_PASSWORD)}
    with transaction(engine_for(live_database)) as db:
        # the synthetic registry's first course with a questionnaire (other tests may have
        # added sites of their own to the same database, in any order)
        course = db.scalars(
            select(m.TreatmentCourse)
            .where(m.TreatmentCourse.id.in_(select(Assessment.course_id)))
            .order_by(m.TreatmentCourse.id)
        ).first()
        assert course is not None, "the synthetic registry has no course with a questionnaire"
        site = db.get(m.Site, db.get(m.Patient, course.patient_id).site_id)  # type: ignore[union-attr]
        assert site is not None
        for role in ROLES[1:]:
            username, password = f"walk-{role}", f"correct horse walk {role}"
            security.add_user(
                db,
                username=username,
                password=password,
                role=role,
                site_codes=[site.code],
                actor=system("walk set-up"),
            )
            logins[role] = (username, password)
        due = db.scalars(
            select(DueQuestionnaire)
            .where(DueQuestionnaire.course_id == course.id, DueQuestionnaire.status == "due")
            .order_by(DueQuestionnaire.id)
        ).first() or next(iter(followup.create_due(db, course)), None)
        assert due is not None, "no questionnaire is due for the walk's course"
        values: dict[str, int | str] = {
            "due_id": due.id,
            "patient_id": course.patient_id,
            "course_id": course.id,
            "practitioner_id": course.practitioner_id,
            "site_id": site.id,
            "assessment_id": _first(
                db,
                select(Assessment.id)
                .where(Assessment.course_id == course.id)
                .order_by(Assessment.id),
            ),
        }
        names = [
            str(name)
            for row in db.execute(select(m.Patient.external_id, m.Patient.family_name))
            for name in row
            if name
        ]
    return WalkRegistry(logins, values, site.code, names)


def pages_for(role: str | None) -> list[CataloguedPage]:
    return [page for page in PAGES if page.role == role]

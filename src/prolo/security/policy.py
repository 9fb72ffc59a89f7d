"""Who may do what to which record: roles, token scopes and per-site visibility.

Enforced in the service layer, so every way in (API, pages, CLI, imports) obeys the same rules.
A record at another site is reported as not found (its existence is not revealed); an action
the role or the token scope does not allow is forbidden.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true

from prolo.errors import DomainError
from prolo.registry import models as m
from prolo.security.principal import Principal

READ, WRITE, ADMIN = "read", "write", "admin"

STAFF = frozenset({"admin", "clinician", "coordinator"})
CLINICIANS = frozenset({"admin", "clinician"})
ENROLLERS = frozenset({"admin", "clinician", "coordinator"})
ADMINS = frozenset({"admin"})

# Who may create, update and retire each kind of record (reading: every staff role).
WRITERS: dict[str, frozenset[str]] = {
    "site": ADMINS,
    "practitioner": ADMINS,
    "practitioner_site": ADMINS,
    "training_record": ADMINS,
    "patient": ENROLLERS,
    "condition": CLINICIANS,
    "prior_treatment": ENROLLERS,
    "treatment_course": CLINICIANS,
    "injection_session": CLINICIANS,
    "co_intervention": CLINICIANS,
    "adverse_event": CLINICIANS,
    "recurrence": CLINICIANS,
    "work_status": ENROLLERS,
    "objective_measure": CLINICIANS,
    "assessment": ENROLLERS,
    "vocabulary_term": ADMINS,
}
SCOPE_ALLOWS = {READ: {READ}, WRITE: {READ, WRITE}, ADMIN: {READ, WRITE, ADMIN}}


class Forbidden(DomainError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Forbidden: {reason}", [], 403)


def authorize(principal: Principal, entity: str, action: str) -> None:
    """Raise :class:`Forbidden` unless the role and the token scope allow ``action``."""
    if action not in SCOPE_ALLOWS[principal.scope]:
        raise Forbidden(f"a {principal.scope}-scoped token cannot {action}")
    if action == READ:
        if principal.role not in STAFF:
            raise Forbidden(f"the {principal.role} role sees only de-identified and aggregate data")
        return
    allowed = WRITERS.get(entity, ADMINS) if action == WRITE else ADMINS
    if principal.role not in allowed:
        raise Forbidden(f"the {principal.role} role cannot {action} {entity.replace('_', ' ')}")


def require_admin(principal: Principal) -> None:
    authorize(principal, "administration", ADMIN)


def visible(principal: Principal, model: type[m.Record]) -> ColumnElement[bool]:
    """A condition that keeps only the records of the principal's sites."""
    if principal.all_sites:
        return true()
    sites = principal.site_ids
    if not sites:
        return false()
    practitioners = select(m.PractitionerSite.practitioner_id).where(
        m.PractitionerSite.site_id.in_(sites), m.PractitionerSite.retired_at.is_(None)
    )
    patients = select(m.Patient.id).where(m.Patient.site_id.in_(sites))
    courses = select(m.TreatmentCourse.id).where(m.TreatmentCourse.patient_id.in_(patients))
    columns = model.__table__.columns
    if model is m.Site:
        return m.Site.id.in_(sites)
    if model is m.Practitioner:
        return m.Practitioner.id.in_(practitioners)
    if "site_id" in columns:
        return columns["site_id"].in_(sites)
    if "patient_id" in columns:
        return columns["patient_id"].in_(patients)
    if "course_id" in columns:
        return columns["course_id"].in_(courses)
    if "practitioner_id" in columns:
        return columns["practitioner_id"].in_(practitioners)
    raise TypeError(f"no site scoping is defined for {model.__name__}")

"""Every staff and public page, with the role that opens it: the browser walk (axe, screenshots)
and the navigation tests go over this list. A new page adds its line here.

``{patient_id}`` and similar placeholders are filled from the demo registry by the walk.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CataloguedPage:
    path: str
    role: str | None  # None: no account needed
    name: str


PAGES: list[CataloguedPage] = [
    CataloguedPage("/login", None, "login"),
    CataloguedPage("/app", "admin", "home (admin)"),
    CataloguedPage("/app", "clinician", "home (clinician)"),
    CataloguedPage("/app/password", "clinician", "change password"),
    CataloguedPage("/app/patients", "clinician", "patient list and search"),
    CataloguedPage("/app/patients/new", "clinician", "new patient"),
    CataloguedPage("/app/patients/{patient_id}", "clinician", "patient chart"),
    CataloguedPage("/app/records/patients/{patient_id}", "clinician", "patient record"),
    CataloguedPage("/app/patients/{patient_id}/conditions/new", "clinician", "new condition"),
    CataloguedPage(
        "/app/patients/{patient_id}/prior-treatments/new", "clinician", "new prior treatment"
    ),
    CataloguedPage("/app/patients/{patient_id}/courses/new", "clinician", "new course"),
    CataloguedPage("/app/patients/{patient_id}/sessions/new", "clinician", "new session"),
    CataloguedPage(
        "/app/patients/{patient_id}/co-interventions/new", "clinician", "new co-intervention"
    ),
    CataloguedPage(
        "/app/patients/{patient_id}/adverse-events/new", "clinician", "new adverse event"
    ),
    CataloguedPage("/app/patients/{patient_id}/recurrences/new", "clinician", "new recurrence"),
    CataloguedPage("/app/patients/{patient_id}/work-statuses/new", "clinician", "new work status"),
    CataloguedPage(
        "/app/patients/{patient_id}/objective-measures/new", "clinician", "new objective measure"
    ),
    CataloguedPage(
        "/app/patients/{patient_id}/assessments/new?instrument=ODI",
        "clinician",
        "questionnaire entry (ODI)",
    ),
    CataloguedPage("/app/outcome-figures", "clinician", "outcome figures of own sites"),
    CataloguedPage("/app/records/courses/{course_id}", "clinician", "course record"),
    CataloguedPage("/app/assessments/{assessment_id}", "clinician", "questionnaire record"),
    CataloguedPage("/app/evidence", "researcher", "evidence"),
    CataloguedPage("/about", None, "what prolotherapy is (public)"),
    CataloguedPage("/about/figures", None, "registry figures beside the trials (public)"),
    CataloguedPage("/about/questions", None, "questions to ask before prolotherapy (public)"),
    CataloguedPage("/about/practitioners/{practitioner_id}", None, "practitioner profile (public)"),
    CataloguedPage("/app/followup", "coordinator", "follow-up worklist"),
    CataloguedPage("/app/reports", "researcher", "outcome dashboard"),
    CataloguedPage("/app/followup/{due_id}/phone", "coordinator", "questionnaire by telephone"),
    CataloguedPage("/app/admin", "admin", "administration"),
    CataloguedPage("/app/admin/sites", "admin", "sites"),
    CataloguedPage("/app/admin/practitioners", "admin", "practitioners"),
    CataloguedPage(
        "/app/admin/practitioners/{practitioner_id}", "admin", "practitioner and training"
    ),
    CataloguedPage("/app/admin/users", "admin", "users"),
    CataloguedPage("/app/admin/tokens", "admin", "API tokens"),
    CataloguedPage("/app/admin/vocabularies?name=agent", "admin", "vocabularies"),
    CataloguedPage("/app/admin/schedule", "admin", "follow-up schedule"),
    CataloguedPage("/app/admin/audit", "admin", "audit trail"),
]

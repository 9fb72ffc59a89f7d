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
    CataloguedPage("/app/patients", "clinician", "patient list"),
    CataloguedPage("/app/patients/{patient_id}", "clinician", "patient chart"),
    CataloguedPage("/app/evidence", "researcher", "evidence"),
    CataloguedPage("/app/followup", "coordinator", "follow-up worklist"),
    CataloguedPage("/app/reports", "researcher", "outcome dashboard"),
    CataloguedPage("/app/followup/{due_id}/phone", "coordinator", "questionnaire by telephone"),
]

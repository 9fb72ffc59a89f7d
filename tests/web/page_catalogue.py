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
    CataloguedPage("/app/evidence", "researcher", "evidence"),
]

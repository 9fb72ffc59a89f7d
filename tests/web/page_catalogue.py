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
    CataloguedPage("/about", None, "what prolotherapy is (public)"),
    CataloguedPage("/about/figures", None, "registry figures beside the trials (public)"),
    CataloguedPage("/about/questions", None, "questions to ask before prolotherapy (public)"),
    CataloguedPage("/practitioners/{practitioner_id}", None, "practitioner profile (public)"),
]

"""The application factory: one FastAPI app over one database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from prolo import __version__
from prolo.db import engine_for, session_factory, writer
from prolo.web import capacity, docs, headers, pages, problems, render
from prolo.web.deps import SessionDep, get_principal

STATIC_DIR = Path(__file__).parent / "static"


def create_app(database_url: str | None = None) -> FastAPI:
    from prolo.registry.api import routers
    from prolo.settings import get_settings

    settings = get_settings()
    url = database_url or settings.database_url
    app = FastAPI(
        title="Prolo Outcomes",
        version=__version__,
        description="The prolotherapy registry, its follow-up and its honest statistics.",
        docs_url=None,
        redoc_url=None,
        lifespan=capacity.worker_threads,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.engine = engine_for(url)
    app.state.session_factory = session_factory(app.state.engine)
    app.state.writer_factory = session_factory(writer(app.state.engine))
    app.state.slots = settings.db_pool_size
    problems.install(app)
    capacity.install(app, slots=settings.db_pool_size, wait=settings.queue_timeout)
    headers.install(app)
    render.install(app)

    @app.get("/health", tags=["health"], summary="Answers 200 when the database answers")
    def health(db: SessionDep) -> Any:
        try:
            db.execute(text("SELECT 1"))
        except Exception as error:  # any database failure means unhealthy
            return JSONResponse(
                {"status": "unavailable", "database": str(error).splitlines()[0]}, status_code=503
            )
        return {"status": "ok", "database": "ok", "version": __version__}

    from prolo.assessments.api import router as assessments_router
    from prolo.assessments.pages import router as assessment_pages
    from prolo.evidence.api import router as evidence_router
    from prolo.followup.api import router as followup_router
    from prolo.followup.pages import router as questionnaire_router
    from prolo.followup.worklist_pages import router as followup_pages_router
    from prolo.interop.api import fhir_router
    from prolo.interop.api import router as research_router
    from prolo.registry.pages import router as registry_pages
    from prolo.reports.api import router as reports_router
    from prolo.reports.pages import router as reports_pages_router
    from prolo.security.admin_pages import router as admin_pages_router
    from prolo.security.api import router as identity_router

    app.include_router(identity_router)
    app.include_router(evidence_router, dependencies=[Depends(get_principal)])
    app.include_router(docs.router)
    app.include_router(assessments_router)
    app.include_router(followup_router)
    app.include_router(reports_router)
    app.include_router(reports_pages_router)
    app.include_router(admin_pages_router)
    app.include_router(research_router)
    app.include_router(fhir_router)
    app.include_router(questionnaire_router)
    app.include_router(followup_pages_router)
    app.include_router(pages.router)
    app.include_router(assessment_pages)  # before the registry's /app/patients/{id}/{kind}
    app.include_router(registry_pages)
    for router in routers():
        app.include_router(router)
    return app

"""The administrator's pages: sites, practitioners and their training records, users, API
tokens, vocabularies, the follow-up schedule and the audit trail.

Every form posts to a route that calls the same service as the API (``registry.service``,
``security.service``, ``registry.vocabulary``, ``followup.service``), which checks that the
actor is an administrator and writes the audit trail; a refused form is shown again with the
service's reason beside the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from prolo.errors import DomainError
from prolo.followup import service as followup
from prolo.followup.schedule import Schedule
from prolo.registry import models as m
from prolo.registry import service as registry
from prolo.registry import vocabulary
from prolo.registry.entities import ENTITIES
from prolo.registry.schemas import TrainingRecordUpdate
from prolo.security import audit, passwords
from prolo.security import service as security
from prolo.security.models import ROLES, SCOPES, User
from prolo.security.principal import Principal
from prolo.web import forms
from prolo.web.deps import FormDep, SessionDep
from prolo.web.render import page_user, render

router = APIRouter(include_in_schema=False)
Admin = Annotated[Principal, Depends(page_user({"admin"}))]
AUDIT_PAGE = 50
SCHEDULE_ROWS = 8  # the schedule form offers this many time-point rows (blank rows ignored)


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _problems(error: DomainError) -> dict[str, str]:
    return {e.field: e.reason for e in error.errors} or {"form": error.title}


def _redirect(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'notice': notice})}", status_code=303)


def _notice(request: Request) -> str | None:
    return request.query_params.get("notice") or None


# --- overview ----------------------------------------------------------------------------


@router.get("/app/admin", response_class=HTMLResponse)
def admin_home(request: Request, db: SessionDep, principal: Admin) -> Response:
    def count(model: Any, *where: Any) -> int:
        return db.scalar(select(func.count()).select_from(model).where(*where)) or 0

    sections = [
        ("Sites", "/app/admin/sites", count(m.Site, m.Site.retired_at.is_(None))),
        (
            "Practitioners and training",
            "/app/admin/practitioners",
            count(m.Practitioner, m.Practitioner.retired_at.is_(None)),
        ),
        ("Users", "/app/admin/users", count(User, User.active.is_(True))),
        ("API tokens", "/app/admin/tokens", None),
        ("Vocabularies", "/app/admin/vocabularies", len(vocabulary.names(db))),
        ("Follow-up schedule", "/app/admin/schedule", None),
        ("Audit trail", "/app/admin/audit", count(m.AuditEntry)),
    ]
    return render(request, "admin/home.html", principal, db=db, sections=sections)


# --- sites -------------------------------------------------------------------------------


def _sites_page(
    request: Request, db: Session, principal: Principal, form: forms.Form, status: int = 200
) -> Response:
    sites = registry.list_records(
        db, ENTITIES["site"], actor=principal, sort="code", limit=registry.MAX_PAGE
    ).items
    return render(
        request,
        "admin/sites.html",
        principal,
        db=db,
        status_code=status,
        sites=sites,
        form=form,
        notice=_notice(request),
    )


@router.get("/app/admin/sites", response_class=HTMLResponse)
def admin_sites(request: Request, db: SessionDep, principal: Admin) -> Response:
    return _sites_page(request, db, principal, forms.describe(ENTITIES["site"].create))


def _create_record(
    db: Session, name: str, raw: Any, principal: Principal, **fixed: Any
) -> tuple[Any, forms.Form]:
    """Validate a posted record form with the API's schema and save it through the service;
    the form comes back with its errors when it is refused."""
    entity = ENTITIES[name]
    posted = {**forms.submitted(entity.create, raw), **fixed}
    form = forms.describe(entity.create, values=posted, hidden=fixed)
    checked = forms.validate(entity.create, posted)
    if checked.data is None:
        form.set_errors(checked.problems)
        return None, form
    try:
        record = registry.create(db, entity, checked.data, actor=principal)
    except DomainError as error:
        db.rollback()
        form.set_errors(forms.domain_problems(error))
        return None, form
    db.commit()
    return record, form


@router.post("/app/admin/sites", response_class=HTMLResponse)
def admin_create_site(request: Request, db: SessionDep, principal: Admin, raw: FormDep) -> Response:
    record, form = _create_record(db, "site", raw, principal)
    if record is None:
        return _sites_page(request, db, principal, form, 422)
    return _redirect("/app/admin/sites", f"Site {record.code} added.")


# --- practitioners and training ----------------------------------------------------------


def _vocab(db: Session, name: str) -> list[forms.Option]:
    return [forms.Option(t.code, t.label) for t in vocabulary.terms(db, name)]


def _practitioner_form(db: Session, values: dict[str, Any] | None = None) -> forms.Form:
    return forms.describe(
        ENTITIES["practitioner"].create,
        values=values,
        options={"degree": _vocab(db, "degree"), "specialty": _vocab(db, "specialty")},
    )


def _practitioners_page(
    request: Request, db: Session, principal: Principal, form: forms.Form, status: int = 200
) -> Response:
    practitioners = registry.list_records(
        db, ENTITIES["practitioner"], actor=principal, sort="name", limit=registry.MAX_PAGE
    ).items
    training = {
        p_id: (n, verified)
        for p_id, n, verified in db.execute(
            select(
                m.TrainingRecord.practitioner_id,
                func.count(),
                func.sum(case((m.TrainingRecord.verified.is_(True), 1), else_=0)),
            )
            .where(m.TrainingRecord.retired_at.is_(None))
            .group_by(m.TrainingRecord.practitioner_id)
        )
    }
    return render(
        request,
        "admin/practitioners.html",
        principal,
        db=db,
        status_code=status,
        practitioners=practitioners,
        training=training,
        form=form,
        notice=_notice(request),
    )


@router.get("/app/admin/practitioners", response_class=HTMLResponse)
def admin_practitioners(request: Request, db: SessionDep, principal: Admin) -> Response:
    return _practitioners_page(request, db, principal, _practitioner_form(db))


@router.post("/app/admin/practitioners", response_class=HTMLResponse)
def admin_create_practitioner(
    request: Request, db: SessionDep, principal: Admin, raw: FormDep
) -> Response:
    record, form = _create_record(db, "practitioner", raw, principal)
    if record is None:
        form = _with_options(form, _practitioner_form(db))
        return _practitioners_page(request, db, principal, form, 422)
    return _redirect(f"/app/admin/practitioners/{record.id}", f"{record.name} added.")


def _with_options(form: forms.Form, described: forms.Form) -> forms.Form:
    """The posted form with the choices of its select fields put back."""
    kinds = {f.name: f for f in described.fields}
    for f in form.fields:
        if f.name in kinds and kinds[f.name].options is not None:
            f.kind, f.options = "select", kinds[f.name].options
    return form


def _site_link_form(db: Session, practitioner_id: int) -> forms.Form:
    sites = [
        forms.Option(str(s.id), f"{s.name} ({s.code})")
        for s in db.scalars(select(m.Site).where(m.Site.retired_at.is_(None)).order_by(m.Site.code))
    ]
    return forms.describe(
        ENTITIES["practitioner_site"].create,
        options={"site_id": sites},
        hidden={"practitioner_id": practitioner_id},
    )


def _training_form(
    db: Session, practitioner_id: int, values: dict[str, Any] | None = None
) -> forms.Form:
    return forms.describe(
        ENTITIES["training_record"].create,
        values=values,
        options={"organization": _vocab(db, "training_organization")},
        hidden={"practitioner_id": practitioner_id},
    )


def _practitioner_page(
    request: Request,
    db: Session,
    principal: Principal,
    practitioner_id: int,
    *,
    site_form: forms.Form | None = None,
    training_form: forms.Form | None = None,
    status: int = 200,
) -> Response:
    record = registry.get_or_raise(db, ENTITIES["practitioner"], practitioner_id, actor=principal)
    sites = db.execute(
        select(m.Site.code, m.Site.name)
        .join(m.PractitionerSite, m.PractitionerSite.site_id == m.Site.id)
        .where(
            m.PractitionerSite.practitioner_id == practitioner_id,
            m.PractitionerSite.retired_at.is_(None),
        )
        .order_by(m.Site.code)
    ).all()
    training = db.scalars(
        select(m.TrainingRecord)
        .where(
            m.TrainingRecord.practitioner_id == practitioner_id,
            m.TrainingRecord.retired_at.is_(None),
        )
        .order_by(m.TrainingRecord.completed_on)
    ).all()
    organizations = {o.value: o.label for o in _vocab(db, "training_organization")}
    return render(
        request,
        "admin/practitioner.html",
        principal,
        db=db,
        status_code=status,
        practitioner=record,
        sites=sites,
        training=training,
        organizations=organizations,
        site_form=site_form or _site_link_form(db, practitioner_id),
        training_form=training_form or _training_form(db, practitioner_id),
        notice=_notice(request),
    )


@router.get("/app/admin/practitioners/{practitioner_id}", response_class=HTMLResponse)
def admin_practitioner(
    practitioner_id: int, request: Request, db: SessionDep, principal: Admin
) -> Response:
    return _practitioner_page(request, db, principal, practitioner_id)


@router.post("/app/admin/practitioners/{practitioner_id}/sites", response_class=HTMLResponse)
def admin_link_site(
    practitioner_id: int, request: Request, db: SessionDep, principal: Admin, raw: FormDep
) -> Response:
    record, form = _create_record(
        db, "practitioner_site", raw, principal, practitioner_id=practitioner_id
    )
    if record is None:
        form = _with_options(form, _site_link_form(db, practitioner_id))
        return _practitioner_page(
            request, db, principal, practitioner_id, site_form=form, status=422
        )
    return _redirect(f"/app/admin/practitioners/{practitioner_id}", "Site linked.")


@router.post("/app/admin/practitioners/{practitioner_id}/training", response_class=HTMLResponse)
def admin_add_training(
    practitioner_id: int, request: Request, db: SessionDep, principal: Admin, raw: FormDep
) -> Response:
    record, form = _create_record(
        db, "training_record", raw, principal, practitioner_id=practitioner_id
    )
    if record is None:
        form = _with_options(form, _training_form(db, practitioner_id))
        return _practitioner_page(
            request, db, principal, practitioner_id, training_form=form, status=422
        )
    return _redirect(f"/app/admin/practitioners/{practitioner_id}", "Training record added.")


@router.post(
    "/app/admin/practitioners/{practitioner_id}/training/{training_id}/verify",
    response_class=HTMLResponse,
)
def admin_verify_training(
    practitioner_id: int, training_id: int, db: SessionDep, principal: Admin
) -> Response:
    """Mark a training record verified (the certificate was seen): an audited correction."""
    entity = ENTITIES["training_record"]
    registry.update(
        db,
        entity,
        training_id,
        TrainingRecordUpdate(verified=True, reason="certificate checked by an administrator"),
        actor=principal,
    )
    db.commit()
    return _redirect(f"/app/admin/practitioners/{practitioner_id}", "Training record verified.")


# --- users -------------------------------------------------------------------------------


def _users_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    one_time: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    sites = db.execute(
        select(m.Site.code, m.Site.name).where(m.Site.retired_at.is_(None)).order_by(m.Site.code)
    ).all()
    return render(
        request,
        "admin/users.html",
        principal,
        db=db,
        status_code=status,
        users=security.list_users(db, actor=principal),
        roles=ROLES,
        all_sites=sites,
        errors=errors or {},
        values=values or {"sites": []},
        one_time=one_time,
        notice=_notice(request),
    )


@router.get("/app/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, db: SessionDep, principal: Admin) -> Response:
    return _users_page(request, db, principal)


@router.post("/app/admin/users", response_class=HTMLResponse)
def admin_add_user(request: Request, db: SessionDep, principal: Admin, raw: FormDep) -> Response:
    """A new user with a one-time password, shown once, to be changed at first login."""
    username, role = _text(raw, "username"), _text(raw, "role")
    site_codes = [c for c in raw.getlist("sites") if isinstance(c, str) and c]
    values = {"username": username, "role": role, "sites": site_codes}
    password = passwords.one_time_password()
    try:
        security.add_user(
            db,
            username=username,
            password=password,
            role=role,
            site_codes=site_codes,
            actor=principal,
            must_change_password=True,
        )
    except DomainError as error:
        db.rollback()
        problems = _problems(error)
        if "site" in problems:
            problems["sites"] = problems.pop("site")
        return _users_page(
            request, db, principal, errors=problems, values=values, status=error.status
        )
    db.commit()
    return _users_page(request, db, principal, one_time=(username, password))


@router.post("/app/admin/users/{username}/disable", response_class=HTMLResponse)
def admin_disable_user(
    username: str, request: Request, db: SessionDep, principal: Admin, raw: FormDep
) -> Response:
    reason = _text(raw, "reason")
    if len(reason) < 3:
        return _users_page(
            request,
            db,
            principal,
            errors={f"reason-{username}": "say why the user is disabled (3 characters or more)"},
            status=422,
        )
    if username == principal.username:
        return _users_page(
            request,
            db,
            principal,
            errors={f"reason-{username}": "you cannot disable your own account"},
            status=409,
        )
    security.disable_user(db, username=username, reason=reason, actor=principal)
    db.commit()
    return _redirect(
        "/app/admin/users", f"{username} is disabled; their sessions and tokens ended."
    )


@router.post("/app/admin/users/{username}/reset", response_class=HTMLResponse)
def admin_reset_password(
    username: str, request: Request, db: SessionDep, principal: Admin
) -> Response:
    try:
        password = security.reset_password(db, username=username, actor=principal)
    except DomainError as error:
        db.rollback()
        return _users_page(
            request,
            db,
            principal,
            errors={f"reason-{username}": "; ".join(_problems(error).values())},
            status=error.status,
        )
    db.commit()
    return _users_page(request, db, principal, one_time=(username, password))


# --- API tokens --------------------------------------------------------------------------


def _tokens_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    issued: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    active_users = [u.username for u, _ in security.list_users(db, actor=principal) if u.active]
    return render(
        request,
        "admin/tokens.html",
        principal,
        db=db,
        status_code=status,
        tokens=security.list_tokens(db, actor=principal),
        usernames=active_users,
        scopes=SCOPES,
        errors=errors or {},
        values=values or {"days": "90", "scope": "read"},
        issued=issued,
        now=dt.datetime.now(dt.UTC),
        notice=_notice(request),
    )


@router.get("/app/admin/tokens", response_class=HTMLResponse)
def admin_tokens(request: Request, db: SessionDep, principal: Admin) -> Response:
    return _tokens_page(request, db, principal)


@router.post("/app/admin/tokens", response_class=HTMLResponse)
def admin_issue_token(request: Request, db: SessionDep, principal: Admin, raw: FormDep) -> Response:
    values = {k: _text(raw, k) for k in ("username", "scope", "days", "name")}
    if not values["days"].isdigit():
        return _tokens_page(
            request,
            db,
            principal,
            errors={"days": "must be a whole number of days"},
            values=values,
            status=422,
        )
    try:
        issued = security.issue_token(
            db,
            username=values["username"],
            scope=values["scope"],
            days=int(values["days"]),
            name=values["name"] or None,
            actor=principal,
        )
    except DomainError as error:
        db.rollback()
        problems = _problems(error)
        if error.status == 404:
            problems = {"username": f"no user {values['username']!r}"}
        return _tokens_page(request, db, principal, errors=problems, values=values, status=422)
    db.commit()
    return _tokens_page(request, db, principal, issued=(values["username"], issued.secret))


@router.post("/app/admin/tokens/{token_id}/revoke", response_class=HTMLResponse)
def admin_revoke_token(token_id: int, db: SessionDep, principal: Admin) -> Response:
    security.revoke_token(db, token_id=token_id, actor=principal)
    db.commit()
    return _redirect("/app/admin/tokens", f"Token {token_id} revoked.")


# --- vocabularies ------------------------------------------------------------------------


def _vocabularies_page(
    request: Request,
    db: Session,
    principal: Principal,
    name: str | None,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    names = sorted(vocabulary.names(db))
    chosen = name if name in names else None
    listed = vocabulary.terms(db, chosen, active_only=False) if chosen else []
    return render(
        request,
        "admin/vocabularies.html",
        principal,
        db=db,
        status_code=status,
        names=names,
        chosen=chosen,
        terms=listed,
        errors=errors or {},
        values=values or {},
        notice=_notice(request),
    )


@router.get("/app/admin/vocabularies", response_class=HTMLResponse)
def admin_vocabularies(request: Request, db: SessionDep, principal: Admin) -> Response:
    return _vocabularies_page(request, db, principal, request.query_params.get("name"))


@router.post("/app/admin/vocabularies/{name}", response_class=HTMLResponse)
def admin_add_term(
    name: str, request: Request, db: SessionDep, principal: Admin, raw: FormDep
) -> Response:
    """A new term: the same checks as the API's (a code of letters, digits, _ or -)."""
    from prolo.security.policy import require_admin

    require_admin(principal)
    code, label = _text(raw, "code"), _text(raw, "label")
    values = {"code": code, "label": label}
    errors = {}
    if name not in vocabulary.names(db):
        errors["name"] = f"no vocabulary {name!r}"
    if not code or len(code) > 64 or not all(c.isalnum() or c in "_-." for c in code):
        errors["code"] = "use 1–64 letters, digits, '_', '-' or '.'"
    if not label or len(label) > 255:
        errors["label"] = "give a label of 1–255 characters"
    if not errors:
        try:
            vocabulary.add_term(
                db, vocabulary=name, code=code, label=label, attributes={}, actor=principal.username
            )
        except DomainError as error:
            db.rollback()
            errors["code"] = error.title
    if errors:
        return _vocabularies_page(
            request, db, principal, name, errors=errors, values=values, status=422
        )
    db.commit()
    return RedirectResponse(
        f"/app/admin/vocabularies?{urlencode({'name': name, 'notice': f'{code} added.'})}",
        status_code=303,
    )


# --- follow-up schedule ------------------------------------------------------------------


def _schedule_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    rows: list[dict[str, Any]] | None = None,
    instruments: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    current = followup.schedule(db)
    shown = rows if rows is not None else [dict(p.__dict__) for p in current.time_points]
    shown = shown + [{} for _ in range(SCHEDULE_ROWS - len(shown))]
    return render(
        request,
        "admin/schedule.html",
        principal,
        db=db,
        status_code=status,
        rows=shown,
        instruments=instruments if instruments is not None else ", ".join(current.instruments),
        errors=errors or {},
        notice=_notice(request),
    )


@router.get("/app/admin/schedule", response_class=HTMLResponse)
def admin_schedule(request: Request, db: SessionDep, principal: Admin) -> Response:
    return _schedule_page(request, db, principal)


@router.post("/app/admin/schedule", response_class=HTMLResponse)
def admin_set_schedule(
    request: Request, db: SessionDep, principal: Admin, raw: FormDep
) -> Response:
    """The time points (name, target day, window) and the questionnaires due at each; new
    courses follow it, existing due questionnaires keep their dates."""
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for i in range(SCHEDULE_ROWS):
        row: dict[str, Any] = {
            k: _text(raw, f"tp-{i}-{k}") for k in ("name", "target", "start", "end")
        }
        row["latest"] = raw.get(f"tp-{i}-latest") in ("true", "on")
        if not any(row[k] for k in ("name", "target", "start", "end")):
            continue
        rows.append(row)
        for k in ("target", "start", "end"):
            try:
                row[k] = int(row[k])
            except ValueError:
                errors[f"tp-{i}"] = f"{k} must be a whole number of days"
        if not row["name"]:
            errors[f"tp-{i}"] = "give the time point a name"
    instruments = _text(raw, "instruments")
    codes = [c.strip().upper() for c in instruments.split(",") if c.strip()]
    if not codes:
        errors["instruments"] = "name at least one questionnaire"
    if not rows:
        errors["time_points"] = "give at least one time point"
    if not errors:
        try:
            new = Schedule.from_dict({"time_points": rows, "instruments": codes})
            followup.set_schedule(db, new, actor=principal)
        except (ValueError, TypeError) as error:
            db.rollback()
            errors["time_points"] = str(error)
    if errors:
        return _schedule_page(
            request, db, principal, rows=rows, instruments=instruments, errors=errors, status=422
        )
    db.commit()
    return _redirect("/app/admin/schedule", "Schedule saved; new courses follow it.")


# --- audit trail -------------------------------------------------------------------------


def _date_or_error(raw: str | None, field: str, errors: dict[str, str]) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = "give the date as YYYY-MM-DD"
        return None


@router.get("/app/admin/audit", response_class=HTMLResponse)
def admin_audit(request: Request, db: SessionDep, principal: Admin) -> Response:
    query = request.query_params
    errors: dict[str, str] = {}
    filters = audit.AuditFilters(
        actor=query.get("actor") or None,
        entity=query.get("entity") or None,
        action=query.get("action") or None,
        since=_date_or_error(query.get("since"), "since", errors),
        until=_date_or_error(query.get("until"), "until", errors),
    )
    raw_page = query.get("page") or "1"
    page = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
    found = audit.search(db, filters, limit=AUDIT_PAGE, offset=(page - 1) * AUDIT_PAGE)
    kept = [(k, v) for k, v in query.multi_items() if k != "page" and v]
    last = max((found.total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1)
    return render(
        request,
        "admin/audit.html",
        principal,
        db=db,
        status_code=422 if errors else 200,
        entries=found.entries,
        total=found.total,
        filters=filters,
        raw={k: query.get(k, "") for k in ("since", "until")},
        errors=errors,
        actors=audit.distinct_values(db, "actor"),
        entities=audit.distinct_values(db, "entity"),
        actions=audit.distinct_values(db, "action"),
        page=page,
        last_page=last,
        previous_query=urlencode([*kept, ("page", str(page - 1))]),
        next_query=urlencode([*kept, ("page", str(page + 1))]),
    )

"""Routes of identity: login and logout, the current user, users and API tokens."""

from typing import Any

from fastapi import APIRouter, Request, Response

from prolo.security import login, service
from prolo.security.models import ApiToken, User
from prolo.security.schemas import (
    DisableRequest,
    LoginRequest,
    LoginResult,
    Me,
    PasswordChange,
    PasswordReset,
    TokenCreate,
    TokenIssued,
    TokenRead,
    UserCreate,
    UserRead,
)
from prolo.settings import get_settings
from prolo.web.deps import SESSION_COOKIE, CurrentUser, SessionDep

router = APIRouter(tags=["identity"])


@router.post("/auth/login", response_model=LoginResult, summary="Log in; sets the session cookie")
def log_in(body: LoginRequest, response: Response, db: SessionDep) -> Any:
    try:
        user = login.check_password(db, username=body.username, password=body.password)
    except service.Unauthenticated:
        db.commit()  # keep the failure, and any lock, in the audit trail
        raise
    started = login.start_session(db, user)
    db.commit()
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        started.cookie,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return LoginResult(
        username=user.username,
        role=user.role,
        csrf_token=started.csrf_token,
        must_change_password=user.must_change_password,
    )


@router.post("/auth/logout", status_code=204, summary="End the browser session")
def log_out(request: Request, principal: CurrentUser, response: Response, db: SessionDep) -> None:
    del principal  # authenticated (and CSRF-checked) by the dependency
    login.end_session(db, request.cookies[SESSION_COOKIE])
    db.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=Me)
def me(principal: CurrentUser) -> Any:
    return Me(
        username=principal.username,
        role=principal.role,
        site_ids=sorted(principal.site_ids),
        scope=principal.scope,
    )


@router.post("/auth/password", status_code=204, summary="Change your own password")
def change_password(body: PasswordChange, principal: CurrentUser, db: SessionDep) -> None:
    user = service.get_user(db, principal.username)
    service.change_password(db, user=user, old=body.old_password, new=body.new_password)
    db.commit()


def _user_read(user: User, sites: list[str]) -> UserRead:
    return UserRead(
        username=user.username,
        role=user.role,
        active=user.active,
        sites=sites,
        locked_until=user.locked_until,
        last_login_at=user.last_login_at,
    )


@router.get("/users", response_model=list[UserRead])
def list_users(principal: CurrentUser, db: SessionDep) -> Any:
    return [_user_read(u, s) for u, s in service.list_users(db, actor=principal)]


@router.post("/users", response_model=UserRead, status_code=201)
def add_user(body: UserCreate, principal: CurrentUser, db: SessionDep) -> Any:
    user = service.add_user(
        db,
        username=body.username,
        password=body.password,
        role=body.role,
        site_codes=body.sites,
        actor=principal,
    )
    db.commit()
    return _user_read(user, body.sites)


@router.post("/users/{username}/disable", response_model=UserRead)
def disable_user(
    username: str, body: DisableRequest, principal: CurrentUser, db: SessionDep
) -> Any:
    user = service.disable_user(db, username=username, reason=body.reason, actor=principal)
    db.commit()
    return _user_read(user, [])


@router.post(
    "/users/{username}/password-reset",
    response_model=PasswordReset,
    summary="Give a user a one-time password, to be changed at their next login",
)
def reset_password(username: str, principal: CurrentUser, db: SessionDep) -> Any:
    password = service.reset_password(db, username=username, actor=principal)
    db.commit()
    return PasswordReset(username=username, one_time_password=password)


def _token_read(token: ApiToken, username: str) -> dict[str, Any]:
    return {
        "id": token.id,
        "username": username,
        "prefix": token.prefix,
        "name": token.name,
        "scope": token.scope,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(principal: CurrentUser, db: SessionDep) -> Any:
    return [_token_read(t, u) for t, u in service.list_tokens(db, actor=principal)]


@router.post("/tokens", response_model=TokenIssued, status_code=201)
def issue_token(body: TokenCreate, principal: CurrentUser, db: SessionDep) -> Any:
    issued = service.issue_token(
        db,
        username=body.username,
        scope=body.scope,
        days=body.days,
        name=body.name,
        actor=principal,
    )
    db.commit()
    return {**_token_read(issued.token, body.username), "token": issued.secret}


@router.post("/tokens/{token_id}/revoke", response_model=TokenRead)
def revoke_token(token_id: int, principal: CurrentUser, db: SessionDep) -> Any:
    token = service.revoke_token(db, token_id=token_id, actor=principal)
    db.commit()
    user = db.get(User, token.user_id)
    return _token_read(token, user.username if user else "?")

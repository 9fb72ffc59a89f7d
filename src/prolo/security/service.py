"""Users, API tokens, logins and web sessions — each event written to the audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from prolo.errors import Conflict, DomainError, FieldError, NotFound, invalid
from prolo.registry.models import Site
from prolo.security import audit, passwords
from prolo.security.models import ROLES, SCOPES, ApiToken, User, UserSite, WebSession
from prolo.security.policy import require_admin
from prolo.security.principal import Principal

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
TOKEN_PREFIX = "prolo_"


class Unauthenticated(DomainError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Not authenticated: {reason}", [], 401)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; everything here is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def digest(secret: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(secret.encode()).hexdigest()


def principal_for(session: Session, user: User, scope: str = "admin") -> Principal:
    sites = session.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id))
    return Principal(
        username=user.username,
        role=user.role,
        site_ids=frozenset(sites),
        scope=scope,
        user_id=user.id,
    )


# --- users -------------------------------------------------------------------------------


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    site_codes: list[str],
    actor: Principal,
    must_change_password: bool = False,
) -> User:
    require_admin(actor)
    errors = []
    if role not in ROLES:
        errors.append(FieldError("role", f"{role!r} is not one of {', '.join(ROLES)}"))
    if not username or len(username) > 64:
        errors.append(FieldError("username", "must be 1–64 characters"))
    if errors:
        raise DomainError("Invalid user", errors)
    if session.scalars(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists", [FieldError("username", "taken")])
    passwords.check_policy(password)
    site_ids = [_site_id(session, code) for code in site_codes]
    if role in ("clinician", "coordinator") and not site_ids:
        raise invalid("site", f"a {role} needs at least one site")
    user = User(
        username=username,
        password_hash=passwords.hash_password(password),
        role=role,
        active=True,
        must_change_password=must_change_password,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    for site_id in site_ids:
        session.add(UserSite(user_id=user.id, site_id=site_id))
    session.flush()
    snapshot = {"username": username, "role": role, "sites": site_codes}
    audit.write(
        session,
        actor=actor.username,
        action="create",
        entity="user",
        entity_id=user.id,
        after=snapshot,
    )
    return user


def _site_id(session: Session, code: str) -> int:
    site = session.scalars(select(Site).where(Site.code == code)).first()
    if site is None:
        raise invalid("site", f"no site with code {code!r}")
    return site.id


def get_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound("user", username)
    return user


def list_users(session: Session, *, actor: Principal) -> list[tuple[User, list[str]]]:
    require_admin(actor)
    result = []
    for user in session.scalars(select(User).order_by(User.username)):
        codes = session.scalars(
            select(Site.code)
            .join(UserSite, UserSite.site_id == Site.id)
            .where(UserSite.user_id == user.id)
        )
        result.append((user, list(codes)))
    return result


def _end_web_sessions(session: Session, user_id: int) -> None:
    for web in session.scalars(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    ):
        web.ended_at = now()


def disable_user(session: Session, *, username: str, reason: str, actor: Principal) -> User:
    require_admin(actor)
    user = get_user(session, username)
    user.active = False
    for token in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now()
    _end_web_sessions(session, user.id)
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="disable",
        entity="user",
        entity_id=user.id,
        before={"active": True},
        after={"active": False},
        reason=reason,
    )
    return user


def reset_password(session: Session, *, username: str, actor: Principal) -> str:
    """Give ``username`` a new one-time password (returned once), to be changed at next login.

    The user's open web sessions end, so whoever knew the old password is signed out; API tokens
    stay valid (they are revoked separately). Audited without the password itself.
    """
    require_admin(actor)
    user = get_user(session, username)
    if not user.active:
        raise invalid("username", "is disabled; a disabled user's password cannot be reset")
    password = passwords.one_time_password()
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    user.failed_logins = 0
    _end_web_sessions(session, user.id)
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="password_reset",
        entity="user",
        entity_id=user.id,
        before={"must_change_password": False},
        after={"must_change_password": True},
    )
    return password


def change_password(session: Session, *, user: User, old: str, new: str) -> None:
    if not passwords.verify_password(user.password_hash, old):
        raise invalid("old_password", "is not the current password")
    passwords.check_policy(new, "new_password")
    if old == new:
        raise invalid("new_password", "must differ from the current password")
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    session.flush()
    audit.write(
        session, actor=user.username, action="password_change", entity="user", entity_id=user.id
    )


# --- API tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def issue_token(
    session: Session,
    *,
    username: str,
    scope: str,
    days: int,
    name: str | None,
    actor: Principal,
) -> IssuedToken:
    """Create a token; its secret is returned once and only its hash is stored."""
    require_admin(actor)
    if scope not in SCOPES:
        raise invalid("scope", f"{scope!r} is not one of {', '.join(SCOPES)}")
    if not 1 <= days <= 366:
        raise invalid("days", "must be 1–366")
    user = get_user(session, username)
    if not user.active:
        raise invalid("username", f"user {username!r} is disabled")
    if scope == "admin" and user.role != "admin":
        raise invalid("scope", "only administrators can hold admin-scoped tokens")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        token_hash=digest(secret),
        prefix=secret[:12],
        name=name,
        scope=scope,
        expires_at=now() + dt.timedelta(days=days),
    )
    session.add(token)
    session.flush()
    audit.write(
        session,
        actor=actor.username,
        action="token_create",
        entity="api_token",
        entity_id=token.id,
        after={"user": username, "scope": scope, "days": days},
    )
    return IssuedToken(token, secret)


def revoke_token(session: Session, *, token_id: int, actor: Principal) -> ApiToken:
    require_admin(actor)
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("api token", token_id)
    if token.revoked_at is None:
        token.revoked_at = now()
        session.flush()
        audit.write(
            session,
            actor=actor.username,
            action="token_revoke",
            entity="api_token",
            entity_id=token.id,
        )
    return token


def list_tokens(session: Session, *, actor: Principal) -> list[tuple[ApiToken, str]]:
    require_admin(actor)
    rows = session.execute(
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id)
    )
    return [(token, username) for token, username in rows]


# A token's use is written down at most once per window: a read must not become a write.
USE_WINDOW = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCheck:
    principal: Principal
    token_id: int
    use_due: bool  # no use recorded within the last USE_WINDOW


def authenticate_token(session: Session, secret: str) -> TokenCheck:
    """The principal behind a bearer token, and whether its use is due to be recorded.

    Reads only; a refused token raises ``Unauthenticated``.
    """
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(secret))).first()
    if token is None:
        raise Unauthenticated("unknown token")
    user = session.get(User, token.user_id)
    if token.revoked_at is not None:
        raise Unauthenticated("the token was revoked")
    if aware(token.expires_at) <= now():
        raise Unauthenticated("the token has expired")
    if user is None or not user.active:
        raise Unauthenticated("the token's user is disabled")
    last = token.last_used_at
    due = last is None or now() - aware(last) >= USE_WINDOW
    return TokenCheck(principal_for(session, user, token.scope), token.id, due)


def record_token_use(session: Session, check: TokenCheck, *, method: str, path: str) -> bool:
    """Write down the first use of a token in each window: its last use, and one ``token_use``
    audit row naming the user and the request. Concurrent requests race on a conditional
    update, so exactly one of them writes the row. Returns whether this call wrote it."""
    moment = now()
    stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= moment - USE_WINDOW)
    claimed = session.execute(
        update(ApiToken)
        .where(ApiToken.id == check.token_id, stale)
        .values(last_used_at=moment)
        .execution_options(synchronize_session="fetch")
    )
    if not getattr(claimed, "rowcount", 0):
        return False
    audit.write(
        session,
        actor=check.principal.username,
        action="token_use",
        entity="api_token",
        entity_id=check.token_id,
        after={"first_request": f"{method} {path}", "window_seconds": 60},
    )
    return True

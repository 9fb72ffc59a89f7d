"""Password logins with throttling, and browser sessions with CSRF tokens and idle time-out."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from prolo.security import audit, passwords
from prolo.security.models import User, WebSession
from prolo.security.principal import Principal
from prolo.security.service import (
    LOCK_MINUTES,
    MAX_FAILED_LOGINS,
    Unauthenticated,
    aware,
    digest,
    now,
    principal_for,
)

MAX_SESSION_HOURS = 12


@dataclass(frozen=True)
class StartedSession:
    user: User
    cookie: str
    csrf_token: str


def check_password(session: Session, *, username: str, password: str) -> User:
    """Verify a login; five failures lock the account for a while. Every outcome is audited.

    The caller must commit even when this raises, so that failures and locks are kept.
    """
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        passwords.verify_password(passwords.DUMMY_HASH, password)
        audit.write(
            session,
            actor=username,
            action="login_failure",
            entity="user",
            entity_id=None,
            reason="unknown user",
        )
        raise Unauthenticated("wrong username or password")
    if user.locked_until is not None and aware(user.locked_until) > now():
        audit.write(
            session,
            actor=username,
            action="login_failure",
            entity="user",
            entity_id=user.id,
            reason="account locked",
        )
        raise Unauthenticated("the account is locked after repeated failures; try again later")
    if not user.active or not passwords.verify_password(user.password_hash, password):
        _record_failure(session, user)
        raise Unauthenticated("wrong username or password")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now()
    audit.write(session, actor=username, action="login_success", entity="user", entity_id=user.id)
    return user


def _record_failure(session: Session, user: User) -> None:
    user.failed_logins += 1
    audit.write(
        session,
        actor=user.username,
        action="login_failure",
        entity="user",
        entity_id=user.id,
        reason=f"failure {user.failed_logins}",
    )
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now() + dt.timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0
        audit.write(
            session,
            actor=user.username,
            action="lock",
            entity="user",
            entity_id=user.id,
            reason=f"{MAX_FAILED_LOGINS} failed logins",
        )
    session.flush()


def start_session(session: Session, user: User) -> StartedSession:
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(WebSession(user_id=user.id, token_hash=digest(cookie), csrf_token=csrf))
    session.flush()
    return StartedSession(user, cookie, csrf)


# A session's last activity is written at most once a minute, so that reading pages does not
# turn every request into a write; the idle time-out is thereby at most a minute late.
TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class ActiveSession:
    principal: Principal
    csrf_token: str
    web_session_id: int
    touch_due: bool = False  # last activity not written within TOUCH_EVERY


class SessionEnded(Unauthenticated):
    """The session is over; ``record_due`` when its end is not written down yet."""

    def __init__(self, reason: str, *, record_due: bool) -> None:
        super().__init__(reason)
        self.record_due = record_due


def resume_session(
    session: Session, cookie: str, *, idle_minutes: int, record: bool = True
) -> ActiveSession:
    """The session behind a cookie, unless it ended, idled out or outlived its maximum.

    With ``record`` the session's end, or its activity once a minute, is written (flushed);
    without it nothing is written and the caller learns from ``touch_due`` and
    ``SessionEnded.record_due`` whether a writing call is needed.
    """
    web = session.scalars(select(WebSession).where(WebSession.token_hash == digest(cookie))).first()
    if web is None or web.ended_at is not None:
        raise SessionEnded("no active session; log in", record_due=False)
    moment = now()
    idle = moment - aware(web.last_seen_at) > dt.timedelta(minutes=idle_minutes)
    too_old = moment - aware(web.created_at) > dt.timedelta(hours=MAX_SESSION_HOURS)
    user = session.get(User, web.user_id)
    if idle or too_old or user is None or not user.active:
        if record:
            web.ended_at = moment
            session.flush()
        raise SessionEnded("the session timed out; log in again", record_due=not record)
    touch_due = moment - aware(web.last_seen_at) >= TOUCH_EVERY
    if record and touch_due:
        web.last_seen_at = moment
        session.flush()
        touch_due = False
    principal = principal_for(session, user, "admin")
    return ActiveSession(principal, web.csrf_token, web.id, touch_due)


def end_session(session: Session, cookie: str) -> None:
    web = session.scalars(select(WebSession).where(WebSession.token_hash == digest(cookie))).first()
    if web is not None and web.ended_at is None:
        web.ended_at = now()
        user = session.get(User, web.user_id)
        audit.write(
            session,
            actor=user.username if user else "?",
            action="logout",
            entity="user",
            entity_id=web.user_id,
        )
        session.flush()


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected, given)

"""Request and response shapes of identity."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResult(BaseModel):
    username: str
    role: str
    csrf_token: str
    must_change_password: bool


class PasswordChange(Strict):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    role: str
    site_ids: list[int]
    scope: str


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["admin", "clinician", "coordinator", "researcher"]
    sites: list[str] = Field(default_factory=list, description="Site codes.")


class UserRead(BaseModel):
    username: str
    role: str
    active: bool
    sites: list[str]
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None


class DisableRequest(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class PasswordReset(BaseModel):
    username: str
    one_time_password: str = Field(description="Shown once; the user must change it at login")


class TokenCreate(Strict):
    username: str
    scope: Literal["read", "write", "admin"]
    days: int = Field(default=90, ge=1, le=366)
    name: str | None = Field(default=None, max_length=128)


class TokenRead(BaseModel):
    id: int
    username: str
    prefix: str
    name: str | None
    scope: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenIssued(TokenRead):
    token: str = Field(description="Shown once; only its hash is stored.")

"""One settings object, read from environment variables prefixed ``PROLO_``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of Prolo Outcomes; each is documented in docs/settings.md."""

    model_config = SettingsConfigDict(env_prefix="PROLO_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///prolo.db",
        description="Database URL (default: a SQLite file in the working directory).",
    )
    acting_user: str = Field(
        default="system",
        description="User the audit trail records for API changes until authentication is used.",
    )
    session_idle_minutes: int = Field(
        default=15, description="Web sessions end after this many idle minutes (automatic log-off)."
    )
    cookie_secure: bool = Field(
        default=True, description="Send the session cookie only over HTTPS (and localhost)."
    )
    admin_password: str | None = Field(
        default=None,
        description="First administrator's password for `prolo init` in automated installs; "
        "without it a one-time password is printed once.",
    )
    host: str = Field(default="127.0.0.1", description="Address `prolo serve` listens on.")
    port: int = Field(default=8000, description="Port `prolo serve` listens on.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

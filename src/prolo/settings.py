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
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Address patients use to reach the server; questionnaire links start with it.",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for patient e-mails.")
    smtp_port: int = Field(default=25, description="SMTP server port.")
    smtp_starttls: bool = Field(
        default=False, description="Upgrade the SMTP connection with STARTTLS."
    )
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server needs one.")
    smtp_password: str | None = Field(default=None, description="SMTP password for smtp_user.")
    mail_from: str = Field(
        default="Prolo Outcomes <followup@localhost>",
        description="Sender of questionnaire invitations and reminders.",
    )
    reminder_days: list[int] = Field(
        default=[3, 7],
        description="Days after an invitation for reminders (JSON list); never once answered.",
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        description="Database connections per server process; as many requests are served at "
        "once (and as many worker threads plus 8 run them), the rest wait in line.",
    )
    queue_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request waits for its turn, a database connection or SQLite's "
        "write lock before it is answered 503 with Retry-After.",
    )
    public_pages: bool = Field(
        default=True,
        description="Serve the public pages that need no account (/about, /about/figures, "
        "/about/questions, /practitioners/{id}); false answers them 404.",
    )
    study_id_key: str | None = Field(
        default=None,
        description="Secret key of the study ids in exports (a keyed hash of the patient); "
        "unset: a random key per export, so its ids link to no other export.",
    )
    analysis_dir: str | None = Field(
        default=None,
        description="Folder of the analysis store (the course table as Parquet, one subfolder "
        "per database); unset: `<file>.analysis` beside a SQLite file, "
        "~/.local/share/prolo/analysis/<host>_<port>_<database> for PostgreSQL.",
    )
    host: str = Field(default="127.0.0.1", description="Address `prolo serve` listens on.")
    port: int = Field(default=8000, description="Port `prolo serve` listens on.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

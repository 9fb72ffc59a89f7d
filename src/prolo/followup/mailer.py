"""Sending questionnaire e-mails through a real SMTP server."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from prolo.settings import Settings


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    body: str


def send(letters: list[Letter], settings: Settings) -> int:
    """Send each letter over one SMTP connection; return how many were accepted."""
    if not letters:
        return 0
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password)
        for letter in letters:
            message = EmailMessage()
            message["From"] = settings.mail_from
            message["To"] = letter.to
            message["Subject"] = letter.subject
            message.set_content(letter.body)
            smtp.send_message(message)
    return len(letters)

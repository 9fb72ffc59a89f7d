"""Domain errors that explain: each names the offending field and the reason.

The API renders them as RFC 9457 ``application/problem+json``; the CLI prints one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass
class DomainError(Exception):
    """A request that breaks a rule; ``status`` is the HTTP status it maps to."""

    title: str
    errors: list[FieldError] = field(default_factory=list)
    status: int = 422

    def __str__(self) -> str:
        details = "; ".join(f"{e.field}: {e.reason}" for e in self.errors)
        return f"{self.title}: {details}" if details else self.title


class NotFound(DomainError):
    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id} not found", [], 404)


class Conflict(DomainError):
    def __init__(self, title: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(title, errors or [], 409)


def invalid(field_name: str, reason: str) -> DomainError:
    return DomainError("Invalid input", [FieldError(field_name, reason)])

"""Input that the databases can store: whole numbers within 32 bits, text without NUL.

Integer columns are 32-bit on PostgreSQL (64 on SQLite, which refuses a Python integer beyond
that with ``OverflowError``), and PostgreSQL refuses a NUL character in text; each would
otherwise surface as a server error instead of a 422 naming the field. One bound for both
databases keeps their answers alike. Request models inherit :class:`Storable`; path
parameters use :data:`RecordId`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ValidationInfo, field_validator

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


def unstorable(value: Any) -> str | None:
    """Why a value cannot be stored, or None when it can (lists and dicts looked into)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        return f"is out of range (a whole number from {INT_MIN} to {INT_MAX})"
    if isinstance(value, str) and "\x00" in value:
        return "must not contain NUL characters"
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        for item in value:
            reason = unstorable(item)
            if reason:
                return reason
    return None


class Storable(BaseModel):
    """A request body whose every field, nested values included, can be stored."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        del info
        reason = unstorable(value)
        if reason:
            raise ValueError(reason)
        return value


RecordId = Annotated[int, Path(ge=INT_MIN, le=INT_MAX, description="The record's id.")]

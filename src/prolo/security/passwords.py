"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from prolo.errors import invalid

MIN_LENGTH = 12
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords, as bundled with the zxcvbn package."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def check_policy(password: str, field: str = "password") -> None:
    """At least 12 characters and not one of the common passwords."""
    if len(password) < MIN_LENGTH:
        raise invalid(field, f"must be at least {MIN_LENGTH} characters")
    if password.lower() in common_passwords():
        raise invalid(field, "is one of the most common passwords; choose another")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Checked against when a username does not exist, so that the time taken does not reveal it.
DUMMY_HASH = _hasher.hash("not a real password, only for constant-time refusal")


def one_time_password() -> str:
    """A random password for a first login, to be changed then."""
    import secrets

    return secrets.token_urlsafe(15)

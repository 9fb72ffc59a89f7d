"""Who is acting, with what role, over which sites, through which token scope."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    site_ids: frozenset[int]
    scope: str = "admin"
    user_id: int | None = None

    @property
    def all_sites(self) -> bool:
        """Administrators act over every site."""
        return self.role == "admin"

    def __str__(self) -> str:
        return self.username


SYSTEM = Principal(username="system", role="admin", site_ids=frozenset(), scope="admin")


def system(username: str = "system") -> Principal:
    """The principal of a command run on the server itself (CLI, import, migration)."""
    return Principal(username=username, role="admin", site_ids=frozenset(), scope="admin")

"""The navigation bar as data: which page each role may open.

Pages of every domain add their entry here, so that the bar shows a role only what it may use
and the page catalogue of the tests can walk every page a role sees.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_ROLES = frozenset({"admin", "clinician", "coordinator", "researcher"})
STAFF = frozenset({"admin", "clinician", "coordinator"})


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    roles: frozenset[str]


NAV: tuple[NavItem, ...] = (
    NavItem("Home", "/app", ALL_ROLES),
    NavItem("Patients", "/app/patients", STAFF),
    NavItem("Follow-up", "/app/followup", frozenset({"admin", "coordinator", "clinician"})),
    NavItem("Reports", "/app/reports", ALL_ROLES),
    NavItem("Evidence", "/app/evidence", ALL_ROLES),
    NavItem("Administration", "/app/admin", frozenset({"admin"})),
    NavItem("Audit trail", "/app/admin/audit", frozenset({"admin"})),
    NavItem("Password", "/app/password", ALL_ROLES),
)


def items_for(role: str | None) -> list[NavItem]:
    """The entries the bar shows to ``role`` (none when nobody is signed in)."""
    if role is None:
        return []
    return [item for item in NAV if role in item.roles]


def may_open(role: str, href: str) -> bool:
    """Whether the entry at ``href`` (exactly) is one the role may use."""
    return any(item.href == href and role in item.roles for item in NAV)

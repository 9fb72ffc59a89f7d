"""Statistics stay pure: instruments, outcomes and evidence import neither the web nor the
database (outcomes/extract.py, the one place that turns SQL into tables, outcomes/store.py, its
columnar snapshot, and each domain's api.py/cli.py excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "prolo"
PURE = ("instruments", "outcomes", "evidence")
EXEMPT = {"extract.py", "store.py", "api.py", "cli.py", "sqlite_reader.py"}
FORBIDDEN = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "prolo.db",
    "prolo.web",
    "psycopg",
    "prolo.registry",
)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize(
    "path",
    [p for domain in PURE for p in sorted((SRC / domain).glob("*.py")) if p.name not in EXEMPT],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_statistics_do_not_import_web_or_database_code(path: Path) -> None:
    bad = sorted(m for m in imports(path) if m.startswith(FORBIDDEN))
    assert bad == [], f"{path.name} imports {bad}"

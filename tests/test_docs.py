"""Docs that cannot go stale: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import typer

from prolo.cli import app
from prolo.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def command_paths(typer_app: typer.Typer, prefix: str = "prolo") -> list[str]:
    paths = [
        f"{prefix} {c.name or (c.callback.__name__ if c.callback else '')}"
        for c in typer_app.registered_commands
    ]
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None
        paths += command_paths(group.typer_instance, f"{prefix} {group.name}")
    return paths


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    for name in Settings.model_fields:
        assert f"`PROLO_{name.upper()}`" in text, f"PROLO_{name.upper()} is not in docs/settings.md"


def test_every_command_is_documented() -> None:
    text = (ROOT / "README.md").read_text() + (ROOT / "docs" / "cli.md").read_text()
    for path in command_paths(app):
        assert f"`{path}" in text, f"{path} is not documented in README.md or docs/cli.md"

"""`prolo backup` and `prolo restore` round trips on SQLite and PostgreSQL, each verified."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from prolo.cli import app
from tests.databases import create_postgres_database, drop_postgres_database

runner = CliRunner()


def _count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _synth(url: str, tmp_path: Path) -> None:
    made = runner.invoke(
        app,
        [
            "synth",
            "--patients",
            "40",
            "--seed",
            "3",
            "--database",
            url,
            "--truth",
            str(tmp_path / "truth.json"),
        ],
    )
    assert made.exit_code == 0, made.output


@pytest.mark.slow
def test_backup_then_restore_gives_the_same_registry(
    fresh_database_url: str, tmp_path: Path
) -> None:
    url = fresh_database_url
    _synth(url, tmp_path)
    patients, due = _count(url, "patients"), _count(url, "due_questionnaires")
    assert patients == 40 and due > 0

    out = tmp_path / "registry.backup"
    made = runner.invoke(app, ["backup", "--database", url, "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert "verified" in made.output and out.exists()

    with create_engine(url).begin() as connection:  # damage the live registry
        connection.execute(text("DELETE FROM invitations"))
        connection.execute(text("DELETE FROM due_questionnaires"))

    if url.startswith("sqlite"):
        target = f"sqlite:///{tmp_path / 'restored.db'}"
        restored = runner.invoke(app, ["restore", str(out), "--database", target])
    else:
        target = create_postgres_database()
        restored = runner.invoke(app, ["restore", str(out), "--database", target])
    try:
        assert restored.exit_code == 0, restored.output
        assert "verified" in restored.output
        assert _count(target, "patients") == patients
        assert _count(target, "due_questionnaires") == due
        # restoring over the damaged registry itself also brings it back
        again = runner.invoke(app, ["restore", str(out), "--database", url])
        assert again.exit_code == 0, again.output
        assert _count(url, "due_questionnaires") == due
    finally:
        if not target.startswith("sqlite"):
            drop_postgres_database(target)


def test_a_tampered_sqlite_backup_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'small.db'}"
    assert runner.invoke(app, ["init", "--database", url]).exit_code == 0
    out = tmp_path / "small.backup"
    assert runner.invoke(app, ["backup", "--database", url, "--out", str(out)]).exit_code == 0
    with sqlite3.connect(out) as connection:
        connection.execute(
            "DELETE FROM vocabulary_terms WHERE id = (SELECT max(id) FROM vocabulary_terms)"
        )
    connection.close()
    target = f"sqlite:///{tmp_path / 'target.db'}"
    refused = runner.invoke(app, ["restore", str(out), "--database", target])
    assert refused.exit_code == 1
    assert "vocabulary_terms" in refused.output
    assert not (tmp_path / "target.db").exists(), "a refused restore must not leave a database"


def test_a_backup_without_its_manifest_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'small.db'}"
    assert runner.invoke(app, ["init", "--database", url]).exit_code == 0
    out = tmp_path / "small.backup"
    assert runner.invoke(app, ["backup", "--database", url, "--out", str(out)]).exit_code == 0
    Path(str(out) + ".manifest.json").unlink()
    refused = runner.invoke(app, ["restore", str(out), "--database", url])
    assert refused.exit_code == 1 and "manifest is missing" in refused.output

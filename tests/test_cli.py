"""The `prolo` command: help answers at once, init and migrations work, serve answers /health."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from prolo.cli import app
from prolo.db import alembic_config

runner = CliRunner()


def test_help_lists_the_commands_without_heavy_imports() -> None:
    code = (
        "import sys; from prolo.cli import app; "
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'numpy', 'pandas', 'scipy') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    help_text = runner.invoke(app, ["--help"]).output
    for command in ("init", "db", "serve", "demo"):
        assert command in help_text


def test_init_then_downgrade_and_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(app, ["init", "--database", url])
    assert result.exit_code == 0, result.output
    assert "vocabulary terms added" in result.output
    assert runner.invoke(app, ["db", "downgrade", "base", "--database", url]).exit_code == 0
    upgraded = runner.invoke(app, ["db", "upgrade", "--database", url])
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert upgraded.exit_code == 0 and f"revision {head}" in upgraded.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_health_on_a_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    port = free_port()
    env = {**os.environ, "PROLO_DATABASE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "prolo.cli", "demo", "--port", str(port), "--patients", "200"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start within 120 s"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["database"] == "ok"
        site = {"code": "A", "name": "A clinic"}
        refused = httpx.post(f"http://127.0.0.1:{port}/sites", json=site)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        issued = runner.invoke(
            app, ["user", "token", "--username", "admin", "--scope", "admin", "--database", url]
        )
        token = issued.stdout.strip()
        created = httpx.post(
            f"http://127.0.0.1:{port}/sites",
            json=site,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        assert (tmp_path / "served.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)

"""`prolo user …` and the first administrator made by `prolo init`."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prolo.cli import app
from prolo.web.app import create_app

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("PROLO_ADMIN_PASSWORD", raising=False)
    return f"sqlite:///{tmp_path / 'users.db'}"


def run(*args: str, url: str, stdin: str | None = None) -> object:
    return runner.invoke(app, [*args, "--database", url], input=stdin)


def test_init_prints_a_one_time_admin_password_once(url: str) -> None:
    first = run("init", url=url)
    assert "first administrator: admin; one-time password" in first.output  # type: ignore[attr-defined]
    second = run("init", url=url)
    assert "one-time password" not in second.output  # type: ignore[attr-defined]


def test_user_lifecycle_from_the_command_line(url: str) -> None:
    run("init", url=url)
    with TestClient(create_app(url), base_url="https://testserver") as api:
        token = run("user", "token", "--username", "admin", "--scope", "admin", url=url)
        admin = {"Authorization": f"Bearer {token.stdout.strip()}"}  # type: ignore[attr-defined]
        assert (
            api.post("/sites", json={"code": "NORTH", "name": "North"}, headers=admin).status_code
            == 201
        )

    added = run(
        "user",
        "add",
        "--username",
        "dr_lee",
        "--role",
        "clinician",
        "--site",
        "NORTH",
        "--password-stdin",
        url=url,
        stdin="a long enough passphrase\n",
    )
    assert added.exit_code == 0, added.output  # type: ignore[attr-defined]
    listed = run("user", "list", url=url)
    assert "dr_lee\tclinician\tNORTH\tactive" in listed.output  # type: ignore[attr-defined]

    issued = run("user", "token", "--username", "dr_lee", "--scope", "write", url=url)
    secret = issued.stdout.strip()  # type: ignore[attr-defined]
    assert secret.startswith("prolo_")
    with TestClient(create_app(url), base_url="https://testserver") as api:
        bearer = {"Authorization": f"Bearer {secret}"}
        assert api.get("/auth/me", headers=bearer).json()["role"] == "clinician"
        assert run("user", "revoke", "--token-id", "2", url=url).exit_code == 0  # type: ignore[attr-defined]
        assert api.get("/auth/me", headers=bearer).status_code == 401

    disabled = run(
        "user", "disable", "--username", "dr_lee", "--reason", "left the clinic", url=url
    )
    assert disabled.exit_code == 0  # type: ignore[attr-defined]
    assert "dr_lee\tclinician\tNORTH\tdisabled" in run("user", "list", url=url).output  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--role", "nurse"],
            "role: 'nurse' is not one of admin, clinician, coordinator, researcher",
        ),
        (["--role", "clinician", "--site", "NOWHERE"], "site: no site with code 'NOWHERE'"),
        (["--role", "clinician"], "site: a clinician needs at least one site"),
    ],
)
def test_bad_user_input_is_one_clean_line(url: str, args: list[str], message: str) -> None:
    run("init", url=url)
    result = run("user", "add", "--username", "x", *args, url=url)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert message in result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_an_administrator_resets_a_password_to_a_one_time_password(url: str) -> None:
    run("init", url=url)
    run(
        "user",
        "add",
        "--username",
        "res",
        "--role",
        "researcher",
        "--password-stdin",
        url=url,
        stdin="a long enough passphrase\n",
    )
    with TestClient(create_app(url), base_url="https://testserver") as api:
        assert (
            api.post(
                "/auth/login", json={"username": "res", "password": "a long enough passphrase"}
            ).json()["must_change_password"]
            is False
        )
        reset = run("user", "reset-password", "res", url=url)
        assert reset.exit_code == 0, reset.output  # type: ignore[attr-defined]
        one_time = reset.output.rsplit(": ", 1)[1].strip()  # type: ignore[attr-defined]
        assert api.get("/auth/me").status_code == 401, "the old session must have ended"
        refused = api.post(
            "/auth/login", json={"username": "res", "password": "a long enough passphrase"}
        )
        assert refused.status_code == 401
        again = api.post("/auth/login", json={"username": "res", "password": one_time})
        assert again.status_code == 200 and again.json()["must_change_password"] is True

        token = run("user", "token", "--username", "admin", "--scope", "admin", url=url)
        admin = {"Authorization": f"Bearer {token.stdout.strip()}"}  # type: ignore[attr-defined]
        by_api = api.post("/users/res/password-reset", headers=admin)
        assert by_api.status_code == 200 and len(by_api.json()["one_time_password"]) >= 12
        trail = api.get("/audit?entity=user", headers=admin)
        actions = [row["action"] for row in trail.json()]
        assert actions.count("password_reset") == 2
        assert api.post("/users/nobody/password-reset", headers=admin).status_code == 404

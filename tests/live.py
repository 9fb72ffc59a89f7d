"""A real server for tests that need real concurrency: uvicorn on a free port, in a thread or
as a `prolo serve` child process, over a database with one site, a clinician and tokens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass(frozen=True)
class Clinic:
    site_id: int
    write_token: str  # the clinician's
    read_token: str
    admin_token: str

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def open_clinic(url: str) -> Clinic:
    """Site HOME, a clinician working there, and committed tokens for them and the admin."""
    from prolo.db import engine_for, transaction
    from prolo.registry import service as registry
    from prolo.registry.entities import ENTITIES
    from prolo.security import service
    from prolo.security.principal import system

    actor = system("test set-up")
    with transaction(engine_for(url)) as session:
        site = ENTITIES["site"]
        home = registry.create(session, site, site.create(code="HOME", name="Home"), actor=actor)
        service.add_user(
            session,
            username="clinician",
            password="correct horse clinician staple",
            role="clinician",
            site_codes=["HOME"],
            actor=actor,
        )

        def token(username: str, scope: str) -> str:
            issued = service.issue_token(
                session, username=username, scope=scope, days=1, name=None, actor=actor
            )
            return issued.secret

        write, read = token("clinician", "write"), token("clinician", "read")
        return Clinic(home.id, write, read, token("admin", "admin"))


def patient_body(site_id: int, external_id: str) -> dict[str, object]:
    return {
        "site_id": site_id,
        "external_id": external_id,
        "sex": "female",
        "consent_status": "pending",
    }


class ServeProcess:
    """`prolo serve` as a child process (so that it can be killed with SIGKILL)."""

    def __init__(self, url: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "prolo.cli", "serve", "--database", url]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Generous: on a loaded 2-core machine importing the app alone has taken over a minute.
        deadline = time.monotonic() + 180
        while True:
            assert self.process.poll() is None, "prolo serve exited"
            assert time.monotonic() < deadline, "prolo serve did not answer"
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no clean shutdown, no last commit
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

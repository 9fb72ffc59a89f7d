"""Benchmark: the API under a clinic's load, beside a bare FastAPI + SQLAlchemy app.

For each database (a SQLite file in WAL mode; a new PostgreSQL database on 127.0.0.1:5432) a
real ``prolo serve`` runs as a child process over loopback, on a database initialised as
`prolo init` would, with one site, a clinician and their bearer tokens (``tests/live.py``).
Three workloads, each at every client count for ``--duration`` seconds; every client sends
its next request as soon as the previous one is answered:

* ``read``: ``GET /patients?limit=20&sort=-id`` with the clinician's read token;
* ``write``: ``POST /patients`` (a new patient each time) with the clinician's write token;
* ``questionnaire``: a patient submits the e-mailed-link questionnaire (``POST /q/{token}``,
  every instrument of the time point answered; each link is used once, made beforehand).

The baseline is a bare FastAPI app (sync routes, SQLAlchemy, default pool) served the same
way on the same database server: ``select`` of 20 rows newest first, and a one-row ``insert``.
It has no authentication, validation, audit or admission control: the floor the real app is
compared with.

Printed per row: requests, requests/s, p50 and p99 latency (ms) and errors (any answer other
than the expected 2xx, or no answer within 30 s). Results of a run go to
``benchmarks/results/api_load.txt`` (``--out``).

Run: ``uv run python benchmarks/api_load.py --databases sqlite postgresql --clients 1 16 64
[--duration 5]``. Not part of CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/live.py and tests/databases.py start servers and databases

from tests.live import Clinic, ServeProcess, free_port, open_clinic, patient_body  # noqa: E402

CLIENT_TIMEOUT = 30.0  # seconds: a request unanswered by then counts as an error (a hang)
ADMIN_PASSWORD = "benchmark admin password horse"


# --- the bare baseline app --------------------------------------------------------------------


def baseline_app(url: str) -> Any:
    """FastAPI + SQLAlchemy with nothing else: what a plain CRUD app costs on this machine."""
    from fastapi import FastAPI
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, insert
    from sqlalchemy import select as sa_select

    engine = create_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=10000")

    metadata = MetaData()
    items = Table(
        "baseline_items",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(100), nullable=False),
    )
    metadata.create_all(engine)
    app = FastAPI()

    @app.get("/items")
    def list_items(limit: int = 20) -> list[dict[str, Any]]:
        with engine.connect() as connection:
            rows = connection.execute(sa_select(items).order_by(items.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

    @app.post("/items", status_code=201)
    def add_item(body: dict[str, Any]) -> dict[str, Any]:
        with engine.begin() as connection:
            inserted = connection.execute(insert(items).values(name=str(body["name"])))
            return {"id": inserted.inserted_primary_key[0]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_baseline(url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(url), host="127.0.0.1", port=port, log_level="info")


class BaselineProcess:
    def __init__(self, url: str) -> None:
        self.base = f"http://127.0.0.1:{free_port()}"
        port = self.base.rsplit(":", 1)[1]
        command = [sys.executable, __file__, "--serve-baseline", url, "--port", port]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, "the baseline server exited"
            assert time.monotonic() < deadline, "the baseline server did not answer"
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- questionnaire links ----------------------------------------------------------------------


def questionnaire_links(url: str, site_id: int, count: int) -> list[tuple[str, dict[str, str]]]:
    """``count`` unused links (token, a complete valid form), from courses 45 days old whose
    follow-up windows are still open."""
    from sqlalchemy import select
    from tests import factories as f

    from prolo.db import engine_for, transaction
    from prolo.followup.models import DueQuestionnaire
    from prolo.followup.service import issue_link
    from prolo.instruments.definitions import get
    from prolo.registry import models as m

    links: list[tuple[str, dict[str, str]]] = []
    today = dt.date.today()
    with transaction(engine_for(url)) as db:
        site = db.get(m.Site, site_id)
        assert site is not None
        doctor = f.practitioner(db, at=site)
        while len(links) < count:
            condition = f.condition(db, of=f.patient(db, at=site))
            course = f.course(db, of=condition, by=doctor, start_date=today - dt.timedelta(45))
            open_due = db.scalars(
                select(DueQuestionnaire).where(
                    DueQuestionnaire.course_id == course.id,
                    DueQuestionnaire.window_closes >= today,
                )
            )
            for due in open_due:
                _, token = issue_link(db, due, kind="invitation")
                form: dict[str, str] = {"action": "submit"}
                for code in due.instruments:
                    for n, item in enumerate(get(code).items):
                        if item.kind == "integer":
                            form[f"{code}__{n}"] = str(item.min)
                        elif item.kind == "choice":
                            form[f"{code}__{n}"] = str(item.options[0].value)
                        else:
                            form[f"{code}__{n}"] = "true"
                links.append((token, form))
    return links


# --- load -------------------------------------------------------------------------------------


@dataclass
class Result:
    database: str
    app: str
    workload: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    first_error: str = ""
    error_kinds: Counter[str] = field(default_factory=Counter)
    ran_out: bool = False

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    def line(self) -> str:
        rate = self.requests / self.elapsed if self.elapsed else 0.0
        note = " (links ran out)" if self.ran_out else ""
        if self.first_error:
            kinds = ", ".join(f"{n} x {kind}" for kind, n in self.error_kinds.most_common())
            note += f"  errors: {kinds}; first: {self.first_error}"
        return (
            f"{self.database:<11}{self.app:<10}{self.workload:<15}{self.clients:>7}"
            f"{self.requests:>9}{rate:>9.1f}{self.percentile(0.5):>9.1f}"
            f"{self.percentile(0.99):>9.1f}{self.errors:>8}{note}"
        )


HEADER = (
    f"{'database':<11}{'app':<10}{'workload':<15}{'clients':>7}"
    f"{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
)

Request = Callable[[httpx.AsyncClient], Any]  # returns an awaitable response, or None: no more


async def _load(
    base: str, clients: int, duration: float, next_request: Request, result: Result
) -> None:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT, limits=limits) as http:
        stop_at = time.perf_counter() + duration

        async def client() -> None:
            while time.perf_counter() < stop_at:
                sent = next_request(http)
                if sent is None:
                    result.ran_out = True
                    return
                started = time.perf_counter()
                try:
                    response = await sent
                except httpx.HTTPError as error:
                    result.errors += 1
                    result.error_kinds[type(error).__name__] += 1
                    result.first_error = result.first_error or f"{type(error).__name__}: {error}"
                    continue
                if response.status_code >= 300:
                    result.errors += 1
                    result.error_kinds[str(response.status_code)] += 1
                    result.first_error = result.first_error or (
                        f"{response.status_code} {response.text[:120]!r}"
                    )
                else:
                    result.latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        result.elapsed = time.perf_counter() - began


def measure(
    base: str, clients: int, duration: float, next_request: Request, result: Result
) -> Result:
    asyncio.run(_load(base, clients, duration, next_request, result))
    print(result.line(), flush=True)
    return result


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    from tests.databases import initialised_database

    with contextlib.contextmanager(initialised_database)(kind, folder, ADMIN_PASSWORD) as url:
        yield url


def server_problems(log: Path) -> list[str]:
    """Lines of the server's log that are not routine (access lines, start and stop)."""
    routine = ("INFO:", "Started server", "Waiting for application", "Application startup")
    problems = Counter(
        line.strip()[:160]
        for line in log.read_text(errors="replace").splitlines()
        if line.strip() and not line.lstrip().startswith(routine)
    )
    return [f"{n} x {line}" for line, n in problems.most_common(10)]


def _questionnaire_requests(links: list[tuple[str, dict[str, str]]]) -> Request:
    remaining = iter(links)

    def next_request(http: httpx.AsyncClient) -> Any:
        link = next(remaining, None)
        return None if link is None else http.post(f"/q/{link[0]}", data=link[1])

    return next_request


def run_database(kind: str, levels: list[int], duration: float) -> list[Result]:
    results: list[Result] = []
    serial = itertools.count()
    with tempfile.TemporaryDirectory() as folder, database(kind, Path(folder)) as url:
        clinic = open_clinic(url)
        read, write = Clinic.bearer(clinic.read_token), Clinic.bearer(clinic.write_token)
        requests: dict[str, Request] = {
            "write": lambda http: http.post(
                "/patients",
                json=patient_body(clinic.site_id, f"B{next(serial):07d}"),
                headers=write,
            ),
            "read": lambda http: http.get("/patients?limit=20&sort=-id", headers=read),
        }
        server_log = Path(folder) / "server.log"
        server = ServeProcess(url, log=server_log)
        try:
            for workload in ("write", "read"):
                for clients in levels:
                    result = Result(kind, "prolo", workload, clients)
                    results.append(
                        measure(server.base, clients, duration, requests[workload], result)
                    )
            needed = 300
            for clients in levels:
                # Links are made between levels (not timed): enough for twice the last rate.
                links = questionnaire_links(url, clinic.site_id, needed)
                result = Result(kind, "prolo", "questionnaire", clients)
                measure(server.base, clients, duration, _questionnaire_requests(links), result)
                results.append(result)
                needed = max(needed, int(2.5 * duration * result.requests / result.elapsed))
        finally:
            server.stop()
            for line in server_problems(server_log):
                print(f"# server log ({kind}): {line}", flush=True)
        baseline = BaselineProcess(url)
        bare: dict[str, Request] = {
            "write": lambda http: http.post("/items", json={"name": f"B{next(serial):07d}"}),
            "read": lambda http: http.get("/items?limit=20"),
        }
        try:
            for workload in ("write", "read"):
                for clients in levels:
                    result = Result(kind, "bare", workload, clients)
                    results.append(
                        measure(baseline.base, clients, duration, bare[workload], result)
                    )
        finally:
            baseline.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 16, 64])
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds per level.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/api_load.txt")
    parser.add_argument("--serve-baseline", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port)
        return
    command = "uv run python benchmarks/api_load.py " + " ".join(sys.argv[1:])
    header = [
        f"# API load, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: {command}",
        f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs.",
        # Say how busy the machine was: other jobs on the same cores inflate every figure.
        "# Load average at start (1/5/15 min): "
        + "/".join(f"{load:.1f}" for load in os.getloadavg())
        + f" on {os.cpu_count()} CPUs (above ~0.5 per CPU, other jobs were running).",
        f"# Each level: {args.duration:g} s; clients, server and database on the same machine "
        "over loopback.",
        "# prolo: `prolo serve` (default settings); bare: FastAPI + SQLAlchemy, no auth/audit.",
        "# errors: any answer but the expected 2xx, or none within 30 s.",
        "",
        HEADER,
    ]
    print("\n".join(header), flush=True)
    lines: list[str] = []
    for kind in args.databases:
        lines += [result.line() for result in run_database(kind, args.clients, args.duration)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header + lines) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

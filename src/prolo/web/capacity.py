"""How many requests are served at once, and what a request that cannot be served in time gets.

Every database route runs in a worker thread and holds one pooled connection for the whole
request, also while it waits for a thread to serialise its response. If more requests held
connections than the pool has, threads would block in the pool waiting for connections held by
requests waiting for threads. So at most ``PROLO_DB_POOL_SIZE`` requests are let in at once
(more wait in line, on the event loop, without a thread or a connection), and the thread pool
has room for all of them. Whatever still cannot be served within ``PROLO_QUEUE_TIMEOUT``
(a place in line, a connection, SQLite's write lock) is answered 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from prolo.web.problems import problem

RETRY_AFTER_SECONDS = 2
SPARE_THREADS = 8  # for work that holds no connection: static files, form parsing


def busy(detail: str) -> JSONResponse:
    response = problem(503, "Service busy: try again shortly", detail=detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class Admission:
    """ASGI middleware letting at most ``slots`` requests in at once; the rest wait in line
    for up to ``wait`` seconds and are then answered 503."""

    def __init__(self, app: ASGIApp, *, slots: int, wait: float) -> None:
        self.app, self.slots, self.wait = app, slots, wait
        self._line: anyio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if self._line is None:  # made on the server's event loop, on first use
            self._line = anyio.Semaphore(self.slots)
        line = self._line
        with anyio.move_on_after(self.wait) as waited:
            await line.acquire()
        if waited.cancelled_caught:
            detail = f"more than {self.slots} requests at once for {self.wait:g} s"
            await busy(detail)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            line.release()


async def _pool_timeout(_: Request, error: Exception) -> JSONResponse:
    return busy("no database connection became free in time")


async def _operational(request: Request, error: Exception) -> JSONResponse:
    # "database is locked" (SQLite writer waited out its busy timeout), a serialisation
    # failure or a lost connection: the request did not happen and may be repeated.
    first = str(getattr(error, "orig", error)).splitlines()[0] if str(error) else "error"
    return busy(f"the database could not serve the request in time ({first})")


def install(app: FastAPI, *, slots: int, wait: float) -> None:
    app.add_middleware(Admission, slots=slots, wait=wait)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(OperationalError, _operational)


@asynccontextmanager
async def worker_threads(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: a thread for every admitted request plus spares (anyio's default is 40)."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = app.state.slots + SPARE_THREADS
    yield

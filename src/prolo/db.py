"""Engine, sessions and migrations: the same code on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Execution option that makes SQLite begin a transaction with BEGIN IMMEDIATE: the write lock is
# taken at the start, so a writer waits (busy_timeout) for the one before it. A deferred
# transaction that reads first and writes later cannot wait: once another writer committed in
# between, SQLite refuses the upgrade at once with "database is locked".
IMMEDIATE = "prolo_sqlite_immediate"

# Named constraints let Alembic's batch mode rebuild SQLite tables and drop constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(busy_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the pysqlite driver, decide when transactions begin; otherwise
        # SAVEPOINTs (nested transactions, all-or-nothing batches) silently commit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return on_connect


def _in_memory(url: str) -> bool:
    return is_sqlite(url) and make_url(url).database in (None, "", ":memory:")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; on SQLite turn on WAL, foreign keys and a busy timeout.

    The pool holds ``PROLO_DB_POOL_SIZE`` connections and never overflows; a caller that
    waits longer than ``PROLO_QUEUE_TIMEOUT`` for one gets ``sqlalchemy.exc.TimeoutError``
    (the web app answers 503), and a SQLite writer waits as long for the write lock.
    """
    from prolo.settings import get_settings

    settings = get_settings()
    url = normalise_url(url)
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    if not _in_memory(url):
        kwargs.setdefault("pool_size", settings.db_pool_size)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", settings.queue_timeout)
    engine = create_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine, "connect", _sqlite_pragmas(int(settings.queue_timeout * 1000)))
        _take_turns_to_write(engine, WriterTurn(), settings.queue_timeout)
    return engine


class WriterTurn:
    """A lock handed to waiters first come, first served (threading.Lock lets newcomers barge).

    Why by hand: SQLite's own wait for its write lock (busy_timeout) is a sleep-and-retry
    loop with sleeps growing to 100 ms, so with many writers a waiter keeps losing to newcomers
    and a few requests wait for seconds while most take milliseconds. Writers of this process
    take turns here first; other processes (a running import) are still waited for by
    busy_timeout. No library offers a FIFO lock with a timeout for threads.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ran out: it is ours
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()  # handed over: stays held
            else:
                self._held = False


TURN_KEY = "prolo_writer_turn"


def _take_turns_to_write(engine: Engine, turn: WriterTurn, timeout: float) -> None:
    """Writer transactions (``BEGIN IMMEDIATE``) of this engine take turns on ``turn``."""

    def begin(connection: Any) -> None:
        if not connection.get_execution_options().get(IMMEDIATE, False):
            connection.exec_driver_sql("BEGIN")
            return
        if not turn.acquire(timeout):
            # Answered 503 by the web app, as when SQLite's own busy timeout runs out.
            raise OperationalError(
                "BEGIN IMMEDIATE", {}, Exception("database is locked (waited for other writers)")
            )
        connection.info[TURN_KEY] = turn
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            end(connection)
            raise

    def end(connection: Any, *_: Any) -> None:
        held = connection.info.pop(TURN_KEY, None)
        if held is not None:
            held.release()

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        # Never leave the turn held by a connection back in the pool (e.g. one invalidated
        # mid-transaction, whose rollback event did not run).
        held = record.info.pop(TURN_KEY, None)
        if held is not None:
            held.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)
    event.listen(engine.pool, "checkin", checked_in)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions take SQLite's write lock when they begin;
    on PostgreSQL the option changes nothing (row locks are taken when rows are written)."""
    return engine.execution_options(**{IMMEDIATE: True})


def begin_write(session: Session) -> None:
    """Start the session's next transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).

    Call it with no transaction open; a session bound to a connection (tests joining an
    outer transaction) or to PostgreSQL is left as it is.
    """
    bind = session.get_bind()
    if session.in_transaction() or not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return
    session.connection(execution_options={IMMEDIATE: True})


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One all-or-nothing unit of work: commit on success, roll back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: the newest)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with make_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

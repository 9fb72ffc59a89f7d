"""SQLite writers of one process take turns first come, first served, and a writer that waits
too long gives up (answered 503) without leaving the turn held."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from prolo.db import TURN_KEY, WriterTurn, make_engine, writer


def test_waiters_are_served_in_the_order_they_came() -> None:
    turn = WriterTurn()
    assert turn.acquire(1)
    served: list[int] = []

    def wait(n: int) -> None:
        assert turn.acquire(10)
        served.append(n)
        turn.release()

    threads = []
    for n in range(5):
        threads.append(threading.Thread(target=wait, args=(n,)))
        threads[-1].start()
        time.sleep(0.05)  # queued one after another
    turn.release()
    for thread in threads:
        thread.join(10)
    assert served == [0, 1, 2, 3, 4]


def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    turn = WriterTurn()
    assert turn.acquire(1)
    assert not turn.acquire(0.05)
    turn.release()  # nobody is waiting any more: free again
    assert turn.acquire(0.01)


def test_writer_transactions_release_their_turn(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}", pool_timeout=1)
    write = writer(engine)
    with write.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        assert TURN_KEY in connection.info
    with write.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        connection.rollback()  # a rollback ends the turn too
        assert TURN_KEY not in connection.info
    held = write.connect()
    held.execute(text("INSERT INTO t VALUES (2)"))  # holds the turn, uncommitted

    def second_writer() -> None:
        with write.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (3)"))

    other = threading.Thread(target=second_writer)
    other.start()
    time.sleep(0.2)
    assert other.is_alive()  # waits for its turn
    held.commit()
    held.close()
    other.join(10)
    assert not other.is_alive()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()


def test_a_writer_that_waits_too_long_gets_an_operational_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prolo.settings import get_settings

    monkeypatch.setenv("PROLO_QUEUE_TIMEOUT", "0.2")
    get_settings.cache_clear()
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    finally:
        get_settings.cache_clear()
    write = writer(engine)
    with write.connect() as first:
        first.execute(text("CREATE TABLE t (x INTEGER)"))
        failed: list[BaseException] = []

        def second_writer() -> None:
            try:
                with write.begin() as connection:
                    connection.execute(text("INSERT INTO t VALUES (1)"))
            except OperationalError as error:
                failed.append(error)

        other = threading.Thread(target=second_writer)
        other.start()
        other.join(10)
        assert len(failed) == 1 and "locked" in str(failed[0])
        first.commit()
    with write.begin() as connection:  # the turn is free again
        connection.execute(text("INSERT INTO t VALUES (2)"))
    engine.dispose()

"""Extraction on both databases: a course per row, time points picked by DESIGN §5 windows."""

from __future__ import annotations

import datetime as dt

import pytest

from prolo.assessments.models import Assessment
from prolo.db import engine_for, transaction
from prolo.followup.schedule import Schedule, TimePoint
from prolo.outcomes.extract import Filters, course_table, safety_tables
from prolo.registry import service
from prolo.registry.entities import ENTITIES
from tests import factories as f

# DESIGN §5 windows, written out here from the design text.
WINDOWS = Schedule(
    (
        TimePoint("baseline", 0, -30, 0, latest=True),
        TimePoint("6w", 42, 28, 56),
        TimePoint("3m", 91, 63, 120),
        TimePoint("6m", 182, 150, 240),
        TimePoint("12m", 365, 300, 450),
        TimePoint("24m", 730, 640, 820),
    )
)


def nrs(
    patient_id: int, course_id: int, index: dt.date, day: int, score: float, **extra: object
) -> Assessment:
    return Assessment(
        patient_id=patient_id,
        course_id=course_id,
        instrument="NRS",
        source="clinic",
        assessed_on=index + dt.timedelta(days=day),
        items=[score],
        score=score,
        scorable=True,
        flags=[],
        **extra,
    )


@pytest.fixture
def registry(fresh_database_url: str) -> dict[str, object]:
    with transaction(engine_for(fresh_database_url)) as db:
        ctx = f.treated_patient(db)
        course = ctx["course"]
        index = course.start_date + dt.timedelta(days=3)
        first = f.injection_session(db, of=course, session_date=index)
        f.injection_session(db, of=course, session_date=index + dt.timedelta(days=14))
        service.create(
            db,
            ENTITIES["adverse_event"],
            ENTITIES["adverse_event"].create(
                course_id=course.id,
                session_id=first.id,
                event_type="pain_flare",
                grade=1,
                onset_date=index,
            ),
            actor=f.ACTOR,
        )
        pid, cid = course.patient_id, course.id
        db.add_all(
            [
                nrs(pid, cid, index, -20, 7),
                nrs(pid, cid, index, -5, 8),  # baseline: the latest
                nrs(pid, cid, index, -31, 9),  # outside every window
                nrs(pid, cid, index, 57, 6.5),  # just after 6 weeks
                nrs(pid, cid, index, 63, 6),  # 3 months, first day
                nrs(pid, cid, index, 170, 5),
                nrs(pid, cid, index, 194, 4),  # tie at 12 days: earlier
                nrs(
                    pid, cid, index, 182, 1, retired_at=dt.datetime.now(dt.UTC), retired_reason="x"
                ),
            ]
        )
        other = f.course(
            db, of=ctx["condition"], by=ctx["practitioner"], start_date=f.days_ago(100)
        )
        db.add(nrs(pid, other.id, other.start_date, 0, 6))
        return {"url": fresh_database_url, "course": cid, "other": other.id, "site": ctx["site"].id}


def test_course_table_picks_time_points_by_the_windows(registry: dict[str, object]) -> None:
    table = course_table(str(registry["url"]), windows=WINDOWS, measures=["nrs_back", "odi"])
    rows = {r["course_id"]: r for r in table.to_dicts()}
    treated = rows[registry["course"]]
    assert treated["nrs_back_baseline"] == 8
    assert treated["nrs_back_6w"] is None
    assert treated["nrs_back_3m"] == 6
    assert treated["nrs_back_6m"] == 5
    assert treated["odi_6m"] is None
    assert treated["sessions_done"] == 2 and treated["planned_sessions"] == 4
    assert treated["region"] == "lumbar" and treated["sex"] == "female"
    assert treated["diagnosis_confirmation"] == "anesthetic_block"
    assert treated["practitioner_years"] == 12 and treated["practitioner_trained"] is False
    assert treated["last_contact_days"] == 170
    assert 30 < treated["age"] < 80 and treated["duration_months"] > 3
    untreated = rows[registry["other"]]
    assert untreated["sessions_done"] == 0 and untreated["nrs_back_baseline"] == 6


def test_filters_are_pushed_down(registry: dict[str, object]) -> None:
    assert (
        course_table(
            str(registry["url"]), windows=WINDOWS, filters=Filters(regions=["cervical"])
        ).height
        == 0
    )
    assert (
        course_table(
            str(registry["url"]),
            windows=WINDOWS,
            filters=Filters(site_ids=[int(str(registry["site"]))]),
        ).height
        == 2
    )
    with pytest.raises(ValueError):
        Filters(regions=["lumbar'; DROP TABLE patients; --"]).where()


def test_safety_tables(registry: dict[str, object]) -> None:
    sessions, events = safety_tables(str(registry["url"]))
    assert sessions.height == 2
    assert events.to_dicts() == [
        {
            "course_id": registry["course"],
            "session_id": sessions["session_id"].min(),
            "event_type": "pain_flare",
            "grade": 1,
            "serious": False,
        }
    ]


def test_extraction_does_not_blind_other_connections(tmp_path: object) -> None:
    """After an extraction, a long-lived connection of this process still sees what another
    process commits (a second copy of the SQLite library in-process breaks this)."""
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    from prolo.outcomes.extract import read_arrow

    path = Path(str(tmp_path)) / "shared.db"
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("PRAGMA journal_mode=WAL")
    reader.execute("CREATE TABLE t (x INTEGER)")

    def write_elsewhere(value: int) -> None:
        code = (
            f"import sqlite3; c = sqlite3.connect({str(path)!r}); "
            f"c.execute('INSERT INTO t VALUES ({value})'); c.commit()"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    def count() -> int:
        return int(reader.execute("SELECT count(*) FROM t").fetchone()[0])

    write_elsewhere(1)
    assert (
        read_arrow(f"sqlite:///{path}", "SELECT count(*) AS n FROM t").column("n")[0].as_py() == 1
    )
    write_elsewhere(2)
    write_elsewhere(3)
    assert count() == 3


@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
def test_large_files_are_read_in_child_processes_with_the_same_result(
    registry: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite files past a size are read by ADBC in child processes (the pieces of a query
    shared between two of them): the same course table either way."""
    from prolo.outcomes import extract

    url = str(registry["url"])
    in_process = course_table(url, windows=WINDOWS).sort("course_id")
    monkeypatch.setattr(extract, "ADBC_SQLITE_FROM_BYTES", 0)
    monkeypatch.setattr(extract, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(extract, "COURSES_PER_READ", 1)
    source = extract.Source(url)
    pieces = extract._assessment_statements(source, ["NRS"], extract.Filters())
    assert len(pieces) >= 2
    in_children = course_table(url, windows=WINDOWS).sort("course_id")
    assert in_children.equals(in_process)


@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
def test_the_three_sqlite_readers_give_the_same_rows(registry: dict[str, object]) -> None:
    """Quoted CSV built inside SQLite (typed reads), ADBC in a child process (large files,
    untyped) and fetched tuples (small files, untyped): the same rows, value for value."""
    import pyarrow as pa

    from prolo.outcomes import extract

    path = str(registry["url"]).removeprefix("sqlite:///")
    sql = extract._assessment_sql(list(extract.MEASURES.values()))
    typed = extract.read_arrow(str(registry["url"]), sql, extract.RAW_ASSESSMENTS)
    assert typed.num_rows > 0
    for untyped in (extract._sqlite_arrow_in_child(path, sql), extract._sqlite_arrow(path, sql)):
        as_typed = untyped.set_column(
            3, "assessed_on", pa.compute.strptime(untyped["assessed_on"], "%Y-%m-%d", "s")
        ).cast(extract.RAW_ASSESSMENTS)
        assert as_typed.sort_by("course_id").equals(typed.sort_by("course_id"))


def test_quoted_csv_reading_keeps_every_value_exactly(tmp_path: object) -> None:
    """Text with commas, quotes, new lines, the word NULL and non-ASCII letters; REALs that
    15 digits would round; large integers; dates; NULLs of every type."""
    import sqlite3
    from pathlib import Path

    import pyarrow as pa

    from prolo.outcomes.extract import read_arrow

    path = Path(str(tmp_path)) / "values.db"
    rows = [
        (1, "a,b", 0.1 + 0.2, "2024-02-29", 2**40),
        (2, 'it\'s "quoted"', 46.666666666666664, "1999-12-31", -(2**31)),
        (3, "two\nlines", 1e-300, None, None),
        (4, "NULL", -2.5, "2026-01-01", 0),
        (5, "Zoë — ü", None, "2025-06-30", 7),
        (6, "", 1.5e308, "2025-06-30", 8),
        (7, None, 3.0, "2025-06-30", 9),
    ]
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (id INTEGER, label TEXT, x REAL, on_day TEXT, big INTEGER)")
    connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    connection.commit()
    connection.close()
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("label", pa.large_string()),
            ("x", pa.float64()),
            ("on_day", pa.date32()),
            ("big", pa.int64()),
        ]
    )
    table = read_arrow(f"sqlite:///{path}", "SELECT * FROM t ORDER BY id", schema)
    assert table.schema == schema
    got = table.to_pylist()
    for row, expected in zip(got, rows, strict=True):
        assert row["label"] == expected[1]
        assert row["x"] == expected[2] and str(row["x"]) == str(expected[2])
        assert (row["on_day"].isoformat() if row["on_day"] else None) == expected[3]
        assert row["big"] == expected[4]
    # several statements (pieces of one query) are read together
    pieces = read_arrow(
        f"sqlite:///{path}",
        [
            "SELECT * FROM t WHERE id < 4",
            "SELECT * FROM t WHERE id >= 4",
            "SELECT * FROM t WHERE 0",
        ],
        schema,
    )
    assert pieces.sort_by("id").equals(table)

"""Which courses were drawn for tracing, and their traced questionnaires, as course-table columns.

Reading (``read``: two small queries, both empty and cheap when nothing was ever drawn) is kept
apart from the pure assembly (``tracing_columns``), as in ``outcomes.extract``.

A traced questionnaire is taken after the time point's window closed (the course had missed
it), so its day does not place it in a window: it belongs to the latest time point the course
was *sampled* for whose target day it follows (a 6-month tracing call at day 260 → 6m, not 3m).
When several traced answers of one instrument belong to one time point, the earliest counts.

Columns added per time point ``tp`` that has draws: ``trace_sampled_{tp}`` (1 drawn, 0
eligible but not drawn, null: in no draw), ``trace_probability_{tp}`` (the draw's sampled ÷
eligible) and ``{measure}_{tp}_traced``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import polars as pl

from prolo.followup.schedule import Schedule

if TYPE_CHECKING:
    from prolo.outcomes.extract import Source

MEMBER_SCHEMA = {
    "course_id": pl.Int64,
    "time_point": pl.Utf8,
    "sampled": pl.Int64,
    "probability": pl.Float64,
}
TRACED_SCHEMA = {
    "course_id": pl.Int64,
    "instrument": pl.Utf8,
    "score": pl.Float64,
    "assessed_on": pl.Date,
}
MEMBERS_SQL = """
SELECT m.course_id, m.time_point, CAST(CASE WHEN m.sampled THEN 1 ELSE 0 END AS INTEGER) AS sampled,
    CAST(d.probability AS REAL) AS probability
FROM tracing_members m JOIN tracing_draws d ON d.id = m.draw_id
"""


def _traced_sql(instruments: list[str] | tuple[str, ...]) -> str:
    from prolo.outcomes.extract import _codes

    # Through the sampled courses' ids (indexed), never a scan of all assessments for the source.
    return f"""
    SELECT a.course_id, a.instrument, CAST(a.score AS REAL) AS score, a.assessed_on
    FROM assessments a
    WHERE a.course_id IN (SELECT course_id FROM tracing_members WHERE sampled)
      AND a.source = 'tracing' AND a.retired_at IS NULL AND a.scorable AND a.score IS NOT NULL
      AND a.instrument IN ({_codes(instruments)})
    """


def read(
    source: Source, instruments: list[str], course_ids: Sequence[int] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(members: course_id, time_point, sampled, probability; traced assessments), of the
    ``course_ids`` only when given (read then as few rows)."""
    from prolo.outcomes.extract import _dates, _ints

    few = bool(course_ids)
    only = f"m.course_id IN ({_ints(course_ids)})" if few else ""
    # On SQLite both reads stay in this process: narrow rows, and a child reader's start-up
    # (extract.read_arrow) would cost more than the read.
    small = few or source.dialect == "sqlite"
    members = source.frame(
        MEMBERS_SQL + (f" WHERE {only}" if few else ""), MEMBER_SCHEMA, few=small
    )
    if members.height == 0 or not instruments:
        return members, pl.DataFrame(schema=TRACED_SCHEMA)
    traced_sql = _traced_sql(instruments) + (f" AND {only.replace('m.', 'a.')}" if few else "")
    raw = source.query(traced_sql, few=small)
    if raw.num_rows == 0:
        return members, pl.DataFrame(schema=TRACED_SCHEMA)
    frame = pl.from_arrow(raw)
    assert isinstance(frame, pl.DataFrame)
    traced = _dates(frame, "assessed_on").with_columns(
        pl.col("course_id").cast(pl.Int64), pl.col("score").cast(pl.Float64)
    )
    return members, traced


def tracing_columns(
    members: pl.DataFrame,
    traced: pl.DataFrame,
    index: pl.DataFrame,
    windows: Schedule,
    measure_of: Mapping[str, str],
) -> pl.DataFrame:
    """One row per course in any draw, with the columns described above.

    ``index``: (course_id, day0); ``measure_of``: instrument code → course-table measure."""
    targets = {p.name: p.target for p in windows.time_points}
    points = [p for p in targets if p in set(members["time_point"].to_list())]
    wide = members.select("course_id").unique()
    for point in points:
        of_point = members.filter(pl.col("time_point") == point).select(
            "course_id",
            pl.col("sampled").cast(pl.Float64).alias(f"trace_sampled_{point}"),
            pl.col("probability").alias(f"trace_probability_{point}"),
        )
        wide = wide.join(of_point, on="course_id", how="left")
    if traced.height == 0:
        return wide
    sampled = members.filter(pl.col("sampled") == 1).with_columns(
        pl.col("time_point").replace_strict(targets, default=None).alias("target")
    )
    dated = traced.join(index, on="course_id", how="inner").with_columns(
        (pl.col("assessed_on") - pl.col("day0")).dt.total_days().alias("day")
    )
    placed = (
        dated.join(sampled.select("course_id", "time_point", "target"), on="course_id")
        .filter(pl.col("target") <= pl.col("day"))
        .sort(["course_id", "instrument", "day", "target"], descending=[False, False, False, True])
        # the latest sampled time point before each answer …
        .unique(subset=["course_id", "instrument", "day"], keep="first", maintain_order=True)
        # … and per time point and instrument the earliest answer
        .unique(subset=["course_id", "instrument", "time_point"], keep="first", maintain_order=True)
        .filter(pl.col("instrument").is_in(list(measure_of)))
        .with_columns(
            (
                pl.col("instrument").replace_strict(dict(measure_of), default=None)
                + "_"
                + pl.col("time_point")
                + "_traced"
            ).alias("column")
        )
    )
    if placed.height == 0:
        return wide
    scores = placed.pivot(on="column", index="course_id", values="score")
    return wide.join(scores, on="course_id", how="left")

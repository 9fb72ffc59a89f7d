"""Write a synthetic registry into a database (through the bulk import path) or to Parquet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from prolo.errors import DomainError, FieldError
from prolo.interop.bulk import BatchResult, Importer
from prolo.interop.pipeline import Pipeline
from prolo.interop.tables import TABLE_ORDER
from prolo.security.principal import system
from prolo.synth import tracing
from prolo.synth.generate import Synthesis
from prolo.synth.params import Params

Progress = Callable[[int], None]  # called with the number of patients just written


@dataclass
class RunReport:
    rows: dict[str, int] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # import time per table

    def add(self, tables: dict[str, pd.DataFrame], seconds: dict[str, float] | None = None) -> None:
        for name, frame in tables.items():
            self.rows[name] = self.rows.get(name, 0) + len(frame)
        for name, spent in (seconds or {}).items():
            self.seconds[name] = self.seconds.get(name, 0.0) + spent

    def add_counts(self, rows: dict[str, int], seconds: dict[str, float]) -> None:
        for name, count in rows.items():
            self.rows[name] = self.rows.get(name, 0) + count
        for name, spent in seconds.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + spent


def to_database(
    url: str, patients: int, seed: int, params: Params, *, progress: Progress | None = None
) -> RunReport:
    """Generate chunk by chunk; each chunk is one all-or-nothing batch of the import path."""
    importer = Importer(url, actor=system("synth"))
    first_id = {name: importer.first_free(name) for name in TABLE_ORDER}
    synthesis = Synthesis(patients, seed, params, first_id=first_id)
    report = RunReport()

    def written(result: BatchResult) -> None:
        if not result.ok:
            raise DomainError(
                "A synthetic batch was rejected by the import rules",
                [
                    FieldError(f"{r.table} row {r.row} {r.field}", r.reason)
                    for r in result.rejected[:5]
                ],
            )
        report.add_counts(result.written, result.seconds)

    # Batch k+1 is generated and validated while batch k is written (interop/pipeline.py).
    with importer.loading(), Pipeline(importer, written) as pipeline:
        for number, (size, tables) in enumerate(synthesis.batches()):
            source = f"synth seed={seed} batch={number}"
            pipeline.submit(tables, sources=dict.fromkeys(tables, source))
            if progress is not None:
                progress(size)
    report.truth = synthesis.truth.as_dict()
    if tracing.enabled(params):
        write_draws(url, synthesis, params, seed)
        report.truth["tracing"] = synthesis.tracing.as_dict(params)
    return report


def write_draws(url: str, synthesis: Synthesis, params: Params, seed: int) -> None:
    """The simulated tracing draws (one per time point and chunk) into the tracing tables."""
    import datetime as dt

    from prolo.db import engine_for, transaction
    from prolo.followup.tracing import record_draw

    as_of = dt.date.fromisoformat(params["as_of"])
    engine = engine_for(url)
    try:
        with transaction(engine) as session:
            for frame in synthesis.tracing.members:
                if frame.empty:
                    continue
                record_draw(
                    session,
                    actor="synth",
                    time_point=str(frame["time_point"].iloc[0]),
                    fraction=float(params["tracing"]["fraction"]),
                    seed=seed,
                    drawn_on=as_of,
                    members=list(
                        zip(
                            frame["course_id"].astype(int).tolist(),
                            frame["sampled"].astype(bool).tolist(),
                            strict=True,
                        )
                    ),
                )
    finally:
        engine.dispose()


def to_parquet(
    directory: Path, patients: int, seed: int, params: Params, *, progress: Progress | None = None
) -> RunReport:
    """Write ``DIRECTORY/<table>/part-NNNNN.parquet`` files that ``prolo import`` reads."""
    synthesis = Synthesis(patients, seed, params)
    report = RunReport()
    for number, (size, tables) in enumerate(synthesis.batches()):
        for name, frame in tables.items():
            folder = directory / name
            folder.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(folder / f"part-{number:05d}.parquet", index=False)
        report.add(tables)
        if progress is not None:
            progress(size)
    report.truth = synthesis.truth.as_dict()
    if tracing.enabled(params) and synthesis.tracing.members:
        # For reference only: ``prolo import`` does not read the draws (they are not clinical
        # data); ``prolo synth`` into a database writes them to the tracing tables.
        folder = directory / "tracing_members"
        folder.mkdir(parents=True, exist_ok=True)
        pd.concat(synthesis.tracing.members).to_parquet(folder / "part-00000.parquet", index=False)
        report.truth["tracing"] = synthesis.tracing.as_dict(params)
    return report

"""Generate a synthetic registry chunk by chunk, with its truth.

The same seed, patient count and parameters give identical tables: every chunk draws from its
own generator seeded by ``(seed, 1, chunk number)``, the clinics from ``(seed, 0)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prolo.interop.tables import TABLE_ORDER
from prolo.synth import clinics as clinics_module
from prolo.synth import outcomes as outcomes_module
from prolo.synth import patients as patients_module
from prolo.synth import tracing as tracing_module
from prolo.synth.params import Params
from prolo.synth.truth import Truth

Tables = dict[str, pd.DataFrame]


@dataclass
class Synthesis:
    """An iterator over batches of tables (clinics first, then chunks of patients)."""

    patients: int
    seed: int
    params: Params
    first_id: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_ORDER, 1))
    keep_outcomes: bool = False

    def __post_init__(self) -> None:
        self.clinics = clinics_module.generate(self.patients, self.seed, self.params, self.first_id)
        self.truth = Truth(self.clinics, self.params, self.seed, self.patients)
        self.next_id = dict(self.first_id)
        for name, frame in self.clinics.tables.items():
            self.next_id[name] = self.first_id[name] + len(frame)
        self.outcomes: list[tuple[patients_module.Chunk, outcomes_module.Outcomes]] = []
        self.tracing = tracing_module.TracingTally()

    @property
    def chunk_size(self) -> int:
        return int(self.params["chunk_patients"])

    def batches(self) -> Iterator[tuple[int, Tables]]:
        """(patients in the batch, tables); the first batch holds the clinics."""
        yield 0, dict(self.clinics.tables)
        for number, start in enumerate(range(0, self.patients, self.chunk_size)):
            size = min(self.chunk_size, self.patients - start)
            yield size, self.chunk(number, size)

    def chunk(self, number: int, size: int) -> Tables:
        rng = np.random.default_rng([self.seed, 1, number])
        chunk = patients_module.generate(rng, size, self.clinics, self.params, self.next_id)
        out = outcomes_module.simulate(rng, chunk, self.clinics, self.params)
        chunk.tables["assessments"] = outcomes_module.assessment_rows(rng, chunk, out, self.params)
        chunk.tables["work_statuses"] = outcomes_module.work_statuses(rng, chunk, out)
        if tracing_module.enabled(self.params):
            traced = tracing_module.trace(number, self.seed, chunk, out, self.params, self.tracing)
            chunk.tables["assessments"] = pd.concat(
                [chunk.tables["assessments"], traced], ignore_index=True
            ).sort_values(
                ["course_id", "assessed_on", "instrument"], kind="stable", ignore_index=True
            )
        self.truth.add(chunk, out)
        if self.keep_outcomes:
            self.outcomes.append((chunk, out))
        tables = {}
        for name in TABLE_ORDER:
            if name not in chunk.tables:
                continue
            frame = chunk.tables[name]
            if "id" not in frame.columns:
                frame.insert(0, "id", self.next_id[name] + np.arange(len(frame)))
            self.next_id[name] += len(frame)
            tables[name] = frame
        return tables

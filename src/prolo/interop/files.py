"""Read import files: ``<table>.csv``, ``<table>.parquet`` or a folder ``<table>/`` of parts,
streamed in row batches so that a file of any size fits in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prolo.errors import DomainError, FieldError
from prolo.interop.tables import TABLE_ORDER

SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Part:
    table: str
    path: Path


def discover(paths: list[Path]) -> list[Part]:
    """The files to import, in the order that lets references resolve."""
    found: list[Part] = []
    for path in paths:
        if path.is_dir() and path.name in TABLE_ORDER:
            found += [Part(path.name, p) for p in sorted(path.iterdir()) if p.suffix in SUFFIXES]
        elif path.is_dir():
            for child in sorted(path.iterdir()):
                found += discover([child]) if child.is_dir() or child.suffix in SUFFIXES else []
        elif path.suffix in SUFFIXES and path.stem in TABLE_ORDER:
            found.append(Part(path.stem, path))
        elif path.suffix in SUFFIXES:
            raise DomainError(
                "Unknown table",
                [
                    FieldError(
                        str(path), f"name the file after its table ({', '.join(TABLE_ORDER)})"
                    )
                ],
            )
        elif not path.exists():
            raise DomainError("No such file", [FieldError(str(path), "does not exist")])
    return sorted(found, key=lambda p: (TABLE_ORDER.index(p.table), str(p.path)))


def read(part: Part, batch_rows: int) -> Iterator[pd.DataFrame]:
    """Frames of at most ``batch_rows`` rows; CSV cells are read as text (the rules parse)."""
    if part.path.suffix == ".csv":
        yield from pd.read_csv(
            part.path, dtype=str, keep_default_na=False, na_values=[""], chunksize=batch_rows
        )
        return
    import pyarrow.parquet as pq

    with pq.ParquetFile(part.path) as parquet:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            yield batch.to_pandas()

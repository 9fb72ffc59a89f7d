"""Rejected rows, collected column-wise: each rule contributes a mask and a reason.

A :class:`Problems` belongs to one table of one batch; ``rows`` are 1-based data-row numbers in
the source (a CSV's header line is not counted), so a user can find the row in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Rejection:
    table: str
    row: int
    field: str
    reason: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source} " if self.source else ""
        return f"{where}{self.table} row {self.row}: {self.field}: {self.reason}"


class Problems:
    """Reasons per row position of one table frame."""

    def __init__(self, table: str, rows: np.ndarray[Any, Any], source: str = "") -> None:
        self.table = table
        self.rows = rows
        self.source = source
        self.bad = np.zeros(len(rows), dtype=bool)
        self._found: list[tuple[np.ndarray[Any, Any], str, Sequence[str]]] = []

    def add(
        self,
        mask: Any,
        field: str,
        reason: str | Callable[[np.ndarray[Any, Any]], Sequence[str]],
    ) -> None:
        """Reject the rows where ``mask`` is true; ``reason`` is a text, or a function of the
        rejected positions that returns one text per position (formatted only for those)."""
        flags = np.asarray(mask, dtype=bool)
        if not flags.any():
            return
        positions = np.flatnonzero(flags)
        texts = reason(positions) if callable(reason) else [reason] * len(positions)
        self.bad |= flags
        self._found.append((positions, field, texts))

    def add_mapped(self, local: Problems, codes: np.ndarray[Any, Any]) -> None:
        """Problems found once per distinct value (``local``), spread to the rows whose
        ``codes`` point at those values."""
        for positions, field, texts in local._found:
            lookup = dict(zip(positions.tolist(), texts, strict=True))
            self.add(np.isin(codes, positions), field, _spread(lookup, codes))

    @property
    def good(self) -> np.ndarray[Any, Any]:
        return ~self.bad

    def count(self) -> int:
        return int(self.bad.sum())

    def rejections(self) -> list[Rejection]:
        out = [
            Rejection(self.table, int(self.rows[p]), field, str(text), self.source)
            for positions, field, texts in self._found
            for p, text in zip(positions, texts, strict=True)
        ]
        return sorted(out, key=lambda r: (r.row, r.field))


def _spread(lookup: dict[int, str], codes: np.ndarray[Any, Any]) -> Callable[..., list[str]]:
    def reasons(rows: np.ndarray[Any, Any]) -> list[str]:
        return [lookup[int(codes[r])] for r in rows]

    return reasons


def values_at(series: pd.Series, template: str) -> Callable[[np.ndarray[Any, Any]], list[str]]:
    """A reason formatter: ``template`` with ``{v}`` replaced by the row's value."""

    def reasons(positions: np.ndarray[Any, Any]) -> list[str]:
        return [template.format(v=_show(v)) for v in series.to_numpy()[positions]]

    return reasons


def _show(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value).date())
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)

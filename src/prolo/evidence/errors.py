"""Errors of the evidence domain: each names the row and the column it is about."""

from __future__ import annotations


class EvidenceInputError(ValueError):
    """Invalid study data, naming the row and the column at fault.

    ``row`` counts data rows from 1 (the header is not a row); ``row=None`` means the
    problem concerns a column as a whole (for example a missing column).
    """

    def __init__(self, reason: str, *, row: int | None = None, column: str | None = None) -> None:
        self.row = row
        self.column = column
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason

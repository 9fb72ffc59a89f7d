"""The worked examples of ../shared/reference/instruments.md, read from that file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "instruments.md"


@dataclass(frozen=True)
class Example:
    instrument: str
    answers: str
    expected: str


def examples() -> list[Example]:
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split("## Worked examples", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("instrument",) and not set(cells[0]) <= {"-"}:
            rows.append(Example(*cells))
    return rows


def number(text: str) -> float:
    """A number as the reference writes it; "13.333…" is a recurring last digit (40/3)."""
    match = re.fullmatch(r"(\d+)\.(\d+)…", text)
    if match:
        digits = match.group(2)
        return float(text[:-1]) + int(digits[-1]) / 9 * 10 ** -len(digits)
    return float(text)


def answers(text: str) -> list[object]:
    ticked = re.fullmatch(r"(\d+) of (\d+) ticked", text)
    if ticked:
        count, total = int(ticked.group(1)), int(ticked.group(2))
        return [True] * count + [False] * (total - count)
    return [None if v.strip() == "null" else int(v) for v in text.split(",")]

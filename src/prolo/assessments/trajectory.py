"""A patient's score trajectory as a small server-rendered SVG, drawn against the clinically
important change from the instrument's own definition.

Written by hand rather than with matplotlib: a dozen points and two lines, an accessible
``<title>``/``<desc>`` and no fonts or scripts to ship; matplotlib would cost ~100 ms a figure
on a page that must render fast.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.sax.saxutils import escape

from prolo.instruments.definitions import Instrument

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


@dataclass(frozen=True)
class Point:
    on: dt.date
    score: float
    label: str  # the time point, or the date when it has none


@dataclass(frozen=True)
class Threshold:
    """The level a score must reach for an important improvement from baseline."""

    level: float
    text: str


def important_change(instrument: Instrument, baseline: float) -> Threshold | None:
    """The minimal important change for one patient (Ostelo 2008 "individual"; IMMPACT
    "moderate" when the instrument has no individual one) below the baseline score: in points
    when the definition gives points (``absolute_raw`` is converted to the score's scale), else
    as a fraction of the baseline."""
    if instrument.better != "lower":
        return None
    chosen = next((c for c in instrument.important_change if c.label == "individual"), None)
    chosen = chosen or next((c for c in instrument.important_change if c.label == "moderate"), None)
    if chosen is None:
        return None
    if chosen.absolute is not None:
        drop = chosen.absolute
    elif chosen.absolute_raw is not None and instrument.scoring.item_max:
        raw_max = instrument.scoring.item_max * len(instrument.items)
        drop = chosen.absolute_raw * (instrument.range[1] - instrument.range[0]) / raw_max
    elif chosen.relative is not None:
        drop = chosen.relative * baseline
    else:
        return None
    source = chosen.source.split(",")[0]
    return Threshold(
        baseline - drop,
        f"important improvement: {baseline - drop:g} or lower "
        f"(down {drop:g} from the baseline {baseline:g}; {source})",
    )


def svg(instrument: Instrument, points: list[Point], key: str = "") -> str:
    """The trajectory of one instrument's scores, oldest first, with the important-change line
    below the first (baseline) score."""
    points = sorted(points, key=lambda p: p.on)
    low, high = instrument.range
    first, last = points[0].on, points[-1].on
    span = max((last - first).days, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(on: dt.date) -> float:
        if first == last:
            return LEFT + plot_w / 2
        return LEFT + plot_w * (on - first).days / span

    def y(score: float) -> float:
        return TOP + plot_h * (high - score) / (high - low)

    threshold = important_change(instrument, points[0].score)
    title = f"{instrument.name}: scores from {first} to {last}"
    desc = "; ".join(f"{p.label} ({p.on}): {p.score:g}" for p in points)
    if threshold:
        desc += f". {threshold.text}."
    ident = f"{instrument.code}{key}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="t-{ident} d-{ident}">',
        f'<title id="t-{ident}">{escape(title)}</title>',
        f'<desc id="d-{ident}">{escape(desc)}</desc>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#767676"/>',
    ]
    for tick in (low, (low + high) / 2, high):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#1a1a1a">{tick:g}</text>'
        )
    if threshold is not None and low <= threshold.level <= high:
        level = y(threshold.level)
        parts.append(
            f'<rect x="{LEFT}" y="{level:.1f}" width="{plot_w}" '
            f'height="{TOP + plot_h - level:.1f}" fill="#e7f3e7"/>'
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{level:.1f}" y2="{level:.1f}" '
            'stroke="#2e7d32" stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{LEFT + plot_w - 4}" y="{level - 4:.1f}" text-anchor="end" '
            f'font-size="12" fill="#1b5e20">important improvement</text>'
        )
    path = " ".join(f"{x(p.on):.1f},{y(p.score):.1f}" for p in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#0b5394" stroke-width="2"/>')
    for p in points:
        parts.append(
            f'<circle cx="{x(p.on):.1f}" cy="{y(p.score):.1f}" r="4" fill="#0b5394"/>'
            f'<text x="{x(p.on):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="11" fill="#1a1a1a">{escape(p.label)}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="12" '
        f'fill="#1a1a1a">{escape(instrument.code)} (lower is better)</text></svg>'
    )
    return "".join(parts)

"""Practitioners compared without league tables: a funnel plot of success against volume with
95% and 99.8% limits (Spiegelhalter, Stat Med 2005;24:1185-1202), case-mix adjusted by the
ratio of observed to expected successes; no figure under a minimum volume."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from prolo.outcomes.definitions import evaluate
from prolo.outcomes.intervals import wilson

MINIMUM_VOLUME = 20
Z95, Z998 = float(stats.norm.ppf(0.975)), float(stats.norm.ppf(0.999))


def limits(target: float, volume: np.ndarray[Any, Any] | float, z: float) -> tuple[Any, Any]:
    """Normal-approximation control limits of a proportion around ``target`` at ``volume``."""
    half = z * np.sqrt(target * (1 - target) / np.asarray(volume, dtype=float))
    return np.clip(target - half, 0, 1), np.clip(target + half, 0, 1)


@dataclass(frozen=True)
class Funnel:
    target: float
    minimum_volume: int
    rows: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "definition": "success among followed courses per practitioner; adjusted = observed ÷ "
            "expected × overall rate (expected from the case-mix model); limits "
            "95% and 99.8% around the overall rate (normal approximation)",
            "target": self.target,
            "minimum_volume": self.minimum_volume,
            "practitioners": self.rows,
        }


def funnel(
    table: pd.DataFrame,
    definition: str,
    expected: np.ndarray[Any, Any] | None = None,
    minimum_volume: int = MINIMUM_VOLUME,
) -> Funnel:
    """Per practitioner: volume (followed courses), observed and adjusted rates, position."""
    evaluation = evaluate(definition, table)
    seen = evaluation.observed
    frame = pd.DataFrame(
        {
            "practitioner_id": table["practitioner_id"].to_numpy()[seen],
            "success": evaluation.success[seen],
            "expected": (expected[seen] if expected is not None else np.nan),
        }
    )
    target = float(frame["success"].mean()) if len(frame) else math.nan
    rows = []
    for practitioner, group in frame.groupby("practitioner_id", sort=True):
        n, observed = len(group), float(group["success"].sum())
        row: dict[str, Any] = {"practitioner_id": int(practitioner), "volume": n}  # type: ignore[arg-type]
        if n < minimum_volume:
            row.update(rate=None, note=f"below the minimum volume of {minimum_volume}")
            rows.append(row)
            continue
        expected_sum = float(group["expected"].sum()) if expected is not None else n * target
        adjusted = observed / expected_sum * target if expected_sum > 0 else math.nan
        low95, high95 = limits(target, n, Z95)
        low998, high998 = limits(target, n, Z998)
        ci_lb, ci_ub = wilson(observed, n)
        position = (
            "above 99.8% limit"
            if adjusted > high998
            else "above 95% limit"
            if adjusted > high95
            else "below 99.8% limit"
            if adjusted < low998
            else "below 95% limit"
            if adjusted < low95
            else "within limits"
        )
        row.update(
            rate=observed / n,
            ci_lb=ci_lb,
            ci_ub=ci_ub,
            observed=observed,
            expected=expected_sum,
            adjusted_rate=adjusted,
            position=position,
        )
        rows.append(row)
    return Funnel(target, minimum_volume, rows)


def funnel_figure(result: Funnel) -> Any:
    """The funnel plot: adjusted rate against volume with the 95% and 99.8% limits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in result.rows if r.get("rate") is not None]
    figure, axis = plt.subplots(figsize=(7.5, 4))
    if shown:
        volumes = np.linspace(
            max(result.minimum_volume, 1), max(r["volume"] for r in shown) * 1.1, 200
        )
        for z, style in ((Z95, "--"), (Z998, ":")):
            low, high = limits(result.target, volumes, z)
            axis.plot(volumes, low * 100, style, color="grey")
            axis.plot(volumes, high * 100, style, color="grey")
        axis.scatter(
            [r["volume"] for r in shown],
            [r["adjusted_rate"] * 100 for r in shown],
            color="#0b5394",
            zorder=3,
        )
        axis.axhline(result.target * 100, color="black", linewidth=0.8)
    axis.set_xlabel("followed courses per practitioner (volume)")
    axis.set_ylabel("case-mix adjusted success, %")
    axis.set_title(
        "Practitioners: 95% (dashed) and 99.8% (dotted) limits; "
        f"none shown under {result.minimum_volume} courses",
        fontsize=9,
    )
    figure.tight_layout()
    return figure

"""Forest plots and the registry-beside-trials figure render, with the expected content."""

from __future__ import annotations

from pathlib import Path

import pytest

from prolo.evidence.forest import figure_bytes, forest_figure, save_figure
from prolo.evidence.pooling import pool, pool_bundled
from prolo.evidence.registry_beside_trials import (
    CAVEAT,
    Rate,
    registry_beside_trials_figure,
    trial_arm_rates,
)
from prolo.evidence.trials import parse_studies


@pytest.mark.parametrize(
    ("text", "measure", "axis"),
    [
        ("study,xi,ni\nA,3,10\nB,8,12\nC,0,9\n", "PLO", "proportion"),
        ("m1i,sd1i,n1i,m2i,sd2i,n2i\n1,1,20,2,1,22\n3,2,15,2,2,15\n", "SMD", "Hedges"),
        ("ai,n1i,ci,n2i\n3,10,4,12\n5,20,9,21\n", "OR", "log scale"),
    ],
)
def test_forest_renders_png_and_svg(tmp_path: Path, text: str, measure: str, axis: str) -> None:
    pooled = pool(parse_studies(text), measure=measure, method="DL")
    written = save_figure(forest_figure(pooled), tmp_path / "f.png")
    assert [p.suffix for p in written] == [".png", ".svg"]
    assert all(p.stat().st_size > 5_000 for p in written)
    svg = written[1].read_text()
    assert axis in svg and "Pooled (DL)" in svg


def test_forest_of_bundled_trials_with_mh() -> None:
    pooled = pool_bundled(comparison="prolotherapy_with_cointerventions", measure="RR", mh=True)
    svg = figure_bytes(forest_figure(pooled), "svg").decode()
    assert "Ongley 1987" in svg and "Klein 1993" in svg and "Pooled (MH)" in svg


def test_trial_arms_are_pooled_per_comparison_without_low_confidence() -> None:
    rates = trial_arm_rates()
    labels = [r.label for r in rates]
    assert len(rates) == 4
    assert any("with cointerventions: control arms" in label for label in labels)
    treated = next(r for r in rates if "cointerventions: prolotherapy arms" in r.label)
    control = next(r for r in rates if "cointerventions: control arms" in r.label)
    assert 35 / 40 > treated.estimate > 30 / 39 - 0.1 and control.estimate > 0.3
    assert all(0 < r.ci_lb < r.estimate < r.ci_ub < 1 for r in rates)


def test_registry_beside_trials_carries_the_caveat() -> None:
    registry = [
        Rate("Registry: missing = failure", 0.41, 0.37, 0.45),
        Rate("Registry: multiple imputation", 0.52, 0.47, 0.57),
    ]
    svg = figure_bytes(registry_beside_trials_figure(registry), "svg").decode()
    assert "no control arm" in CAVEAT and "control groups also improved" in CAVEAT
    assert "control groups also improved" in svg and "multiple imputation" in svg

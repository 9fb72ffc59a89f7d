"""Effect sizes: zero-cell handling, Hedges' correction and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prolo.evidence.effects import (
    back_transform,
    binary_effects,
    continuous_effects,
    escalc,
    hedges_correction,
    proportion_effects,
)
from prolo.evidence.errors import EvidenceInputError


def test_zero_cell_adds_half_to_every_cell_of_that_study_only() -> None:
    eff = binary_effects("OR", [0, 5], [10, 5], [3, 4], [7, 6])
    assert eff.yi[0] == pytest.approx(math.log((0.5 / 10.5) / (3.5 / 7.5)))
    assert eff.vi[0] == pytest.approx(1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 7.5)
    assert eff.yi[1] == pytest.approx(math.log((5 / 5) / (4 / 6)))
    rr = binary_effects("RR", [0], [10], [3], [7])
    assert rr.yi[0] == pytest.approx(math.log((0.5 / 11) / (3.5 / 11)))
    rd = binary_effects("RD", [0], [10], [3], [7])
    assert rd.yi[0] == pytest.approx(0.5 / 11 - 3.5 / 11)


def test_drop00_gives_nan_for_tables_without_events() -> None:
    eff = binary_effects("RR", [0, 2], [10, 8], [0, 3], [9, 7], drop00=True)
    assert math.isnan(eff.yi[0]) and math.isnan(eff.vi[0])
    assert not math.isnan(eff.yi[1])


def test_hedges_correction_is_exact_and_close_to_the_approximation() -> None:
    m = np.array([2.0, 10.0, 50.0, 5000.0])
    exact = hedges_correction(m)
    assert exact[0] == pytest.approx(math.gamma(1) / (math.sqrt(1) * math.gamma(0.5)))
    assert np.all(np.abs(exact - (1 - 3 / (4 * m - 1))) < 0.01)
    assert np.isfinite(exact[-1])


def test_smd_uses_pooled_sd_and_ls_variance() -> None:
    eff = continuous_effects("SMD", [10.0], [2.0], [20], [8.0], [3.0], [30])
    sp = math.sqrt((19 * 4 + 29 * 9) / 48)
    g = float(hedges_correction(48)) * 2 / sp
    assert eff.yi[0] == pytest.approx(g)
    assert eff.vi[0] == pytest.approx(1 / 20 + 1 / 30 + g**2 / 100)


def test_plo_zero_events_and_back_transform() -> None:
    eff = proportion_effects([0, 5], [10, 20])
    assert eff.yi[0] == pytest.approx(math.log(0.5 / 10.5))
    assert back_transform("PLO")(eff.yi)[1] == pytest.approx(0.25)
    assert back_transform("OR")(np.array([0.0]))[0] == 1.0


def test_escalc_accepts_totals_instead_of_non_events() -> None:
    a = escalc("RR", {"ai": [3], "bi": [7], "ci": [4], "di": [6]})
    b = escalc("RR", {"ai": [3], "n1i": [10], "ci": [4], "n2i": [10]})
    assert a.yi[0] == b.yi[0] and a.vi[0] == b.vi[0]


def test_escalc_names_the_missing_column() -> None:
    with pytest.raises(EvidenceInputError, match="column 'sd1i'"):
        escalc("SMD", {"m1i": [1], "n1i": [2], "m2i": [1], "sd2i": [1], "n2i": [3]})
    with pytest.raises(EvidenceInputError, match="unknown measure"):
        escalc("HR", {})

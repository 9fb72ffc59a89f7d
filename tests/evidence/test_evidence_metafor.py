"""Every value in ``shared/reference/metafor/*.json`` is reproduced to a relative 1e-6.

The reference files were made with R's metafor 3.8.1 on datasets of the metadat package
(dat.bcg, dat.debruin2009, dat.normand1999): ``escalc`` yi/vi, ``rma.uni`` with EE, DL,
REML and PM (with and without ``test="knha"``) with ``predict`` intervals, and ``rma.mh``.
The test reads the files; it holds none of their numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from evidence_reference import close, load_references

from prolo.evidence.effects import escalc
from prolo.evidence.mh import MantelHaenszel
from prolo.evidence.models import MetaAnalysis

REFERENCES = load_references()
INPUT_COLUMNS = ("ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "sd1i", "m2i", "sd2i", "xi", "ni")
MODEL_CASES = [
    pytest.param(ref, name, id=f"{stem}-{name}")
    for stem, ref in REFERENCES
    for name in ref["models"]
]
MH_CASES = [pytest.param(ref, id=stem) for stem, ref in REFERENCES if "mantel_haenszel" in ref]


def _columns(ref: dict[str, Any]) -> dict[str, np.ndarray]:
    first = ref["input"][0]
    return {c: np.array([row[c] for row in ref["input"]]) for c in INPUT_COLUMNS if c in first}


def test_every_reference_file_is_checked() -> None:
    measures = {ref["measure"] for _, ref in REFERENCES}
    assert {"RR", "OR", "RD", "MD", "SMD", "PLO"} <= measures
    assert all(ref["metafor_version"] == "3.8.1" for _, ref in REFERENCES)
    assert len(MODEL_CASES) >= 6 * 7
    assert len(MH_CASES) == 3


@pytest.mark.parametrize("ref", [pytest.param(r, id=s) for s, r in REFERENCES])
def test_effect_sizes_match_escalc(ref: dict[str, Any]) -> None:
    eff = escalc(ref["measure"], _columns(ref))
    for got, expected in zip(eff.yi, ref["yi"], strict=True):
        assert close(float(got), expected), (got, expected)
    for got, expected in zip(eff.vi, ref["vi"], strict=True):
        assert close(float(got), expected), (got, expected)


@pytest.mark.parametrize(("ref", "name"), MODEL_CASES)
def test_model_matches_rma(ref: dict[str, Any], name: str) -> None:
    expected = ref["models"][name]
    method, _, adjust = name.partition("+")
    assert expected["method"] == method
    fit = MetaAnalysis(method, hksj=adjust == "HKSJ").fit(ref["yi"], ref["vi"])
    got = fit.to_dict()
    assert got["test"] == expected["test"]
    checked = [key for key in expected if key not in ("method", "test")]
    assert len(checked) == 14  # estimate..pi_ub, tau2_se, Q_df
    mismatches = {
        key: (got[key], expected[key]) for key in checked if not close(got[key], expected[key])
    }
    assert not mismatches
    assert fit.tau2_ >= 0


@pytest.mark.parametrize("ref", MH_CASES)
def test_mantel_haenszel_matches_rma_mh(ref: dict[str, Any]) -> None:
    cols = _columns(ref)
    fit = MantelHaenszel(ref["measure"]).fit(cols["ai"], cols["bi"], cols["ci"], cols["di"])
    got = fit.to_dict()
    expected = ref["mantel_haenszel"]
    assert len(expected) >= 6
    mismatches = {k: (got[k], v) for k, v in expected.items() if not close(got[k], v)}
    assert not mismatches

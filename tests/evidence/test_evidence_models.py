"""Model behaviour beyond the reference values: truncation, HKSJ, leave-one-out, root finding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from prolo.evidence.errors import EvidenceInputError
from prolo.evidence.models import MetaAnalysis
from prolo.evidence.tau2 import paule_mandel, reml, zeroin


def _simulate(k: int, mu: float, tau2: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    yi = rng.normal(mu, np.sqrt(vi + tau2))
    return yi, vi


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_tau2_is_zero_not_negative_for_homogeneous_studies(method: str) -> None:
    yi = np.array([0.30, 0.31, 0.29, 0.30, 0.305])
    vi = np.array([0.05, 0.04, 0.06, 0.05, 0.03])
    fit = MetaAnalysis(method).fit(yi, vi)
    assert fit.tau2_ == 0.0
    assert fit.I2_ == 0.0 and fit.H2_ == 1.0
    assert fit.estimate_ == pytest.approx(MetaAnalysis("EE").fit(yi, vi).estimate_)


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_recovers_known_truth_on_many_studies(method: str) -> None:
    yi, vi = _simulate(4000, mu=0.4, tau2=0.09, seed=7)
    fit = MetaAnalysis(method).fit(yi, vi)
    assert fit.estimate_ == pytest.approx(0.4, abs=0.03)
    assert fit.tau2_ == pytest.approx(0.09, rel=0.15)
    assert fit.ci_lb_ < 0.4 < fit.ci_ub_


def test_reml_is_at_the_restricted_likelihood_maximum() -> None:
    yi, vi = _simulate(30, mu=0.2, tau2=0.05, seed=3)

    def neg_loglik(t: float) -> float:
        w = 1 / (vi + t)
        mu = np.sum(w * yi) / np.sum(w)
        return 0.5 * float(np.sum(np.log(vi + t)) + np.log(np.sum(w)) + np.sum(w * (yi - mu) ** 2))

    best = optimize.minimize_scalar(
        neg_loglik, bounds=(0, 5), method="bounded", options={"xatol": 1e-12}
    )
    assert reml(yi, vi).tau2 == pytest.approx(best.x, abs=1e-5)


def test_paule_mandel_solves_the_generalised_q_equation() -> None:
    yi, vi = _simulate(25, mu=0.0, tau2=0.2, seed=11)
    tau2 = paule_mandel(yi, vi).tau2
    w = 1 / (vi + tau2)
    q = np.sum(w * (yi - np.sum(w * yi) / np.sum(w)) ** 2)
    assert q == pytest.approx(24, abs=0.01)


def test_zeroin_finds_roots_within_its_tolerance() -> None:
    root, _ = zeroin(lambda x: x**3 - 2, 0.0, 5.0, -2.0, 123.0, 1e-10, 100)
    assert root == pytest.approx(2 ** (1 / 3), abs=1e-9)
    assert zeroin(math.cos, 0.0, 1.0, 0.0, math.cos(1.0), 1e-8, 100) == (0.0, 0)


def test_hksj_uses_t_with_k_minus_1_and_scaled_variance() -> None:
    yi, vi = _simulate(6, mu=0.3, tau2=0.1, seed=5)
    z = MetaAnalysis("DL").fit(yi, vi)
    t = MetaAnalysis("DL", hksj=True).fit(yi, vi)
    w = 1 / (vi + z.tau2_)
    s2 = np.sum(w * (yi - z.estimate_) ** 2) / 5
    assert t.se_ == pytest.approx(z.se_ * math.sqrt(s2))
    crit = stats.t.ppf(0.975, 5)
    assert t.ci_ub_ - t.estimate_ == pytest.approx(crit * t.se_)
    assert t.pi_ub_ - t.estimate_ == pytest.approx(crit * math.sqrt(t.se_**2 + t.tau2_))


def test_leave_one_out_refits_without_each_study() -> None:
    yi, vi = _simulate(5, mu=0.3, tau2=0.1, seed=9)
    fit = MetaAnalysis("REML", hksj=True).fit(yi, vi)
    loo = fit.leave_one_out()
    assert list(loo["omitted"]) == [1, 2, 3, 4, 5]
    again = MetaAnalysis("REML", hksj=True).fit(np.delete(yi, 2), np.delete(vi, 2))
    assert loo.loc[2, "estimate"] == pytest.approx(again.estimate_)
    assert loo.loc[2, "tau2"] == pytest.approx(again.tau2_)
    assert (loo["tau2"] >= 0).all()


def test_single_study_and_summary() -> None:
    fit = MetaAnalysis("REML").fit([0.5], [0.04])
    assert fit.estimate_ == 0.5 and fit.tau2_ == 0 and fit.Q_ == 0 and fit.Q_pval_ == 1
    assert "k = 1" in fit.summary
    assert fit.to_dict()["tau2_se"] is None


@pytest.mark.parametrize(
    ("yi", "vi", "message"),
    [
        ([0.1, 0.2], [0.1], "yi has 2 values but vi has 1"),
        ([0.1, float("nan")], [0.1, 0.1], "row 2, column 'yi'"),
        ([0.1, 0.2], [0.1, 0.0], "row 2, column 'vi'"),
        ([], [], "no studies"),
    ],
)
def test_invalid_inputs_name_row_and_column(yi: list[float], vi: list[float], message: str) -> None:
    with pytest.raises(EvidenceInputError, match=message):
        MetaAnalysis("DL").fit(yi, vi)


def test_unfitted_and_unknown_method() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        MetaAnalysis().to_dict()
    with pytest.raises(EvidenceInputError, match="unknown method"):
        MetaAnalysis("SJ")  # type: ignore[arg-type]

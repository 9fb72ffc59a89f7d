"""Benchmark: a 1,000-study random-effects fit by prolo, PyMARE and statsmodels, in one run.

For each implementation and each τ² method it supports (REML; also DL and PM, since
statsmodels' ``combine_effects`` has no REML), the table shows

* the best time of several fits on 1,000 synthetic studies (fixed seed);
* the largest relative deviation of (estimate, SE, τ²) from prolo's fit on those studies
  (there is no metafor reference for synthetic data, so implementations are compared);
* the largest relative deviation of (estimate, SE, τ²) from metafor 3.8.1 on the BCG
  log odds ratios (``shared/reference/metafor/bcg_OR.json``).

PyMARE is run with ``small_sample_correction="wald"`` (plain z inference, like metafor's
default). Run: ``uv run python benchmarks/evidence_reml.py``. Not part of CI.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np

from prolo.evidence.models import MetaAnalysis

Fit = Callable[[np.ndarray, np.ndarray], tuple[float, float, float]]
K, SEED, REPEATS = 1000, 20261124, 5
REPO = Path(__file__).resolve().parents[1]


def _reference_file() -> Path:
    for base in (REPO.parent, *REPO.parents):
        path = base / "shared" / "reference" / "metafor" / "bcg_OR.json"
        if path.exists():
            return path
    raise FileNotFoundError("shared/reference/metafor/bcg_OR.json beside the repository")


def ours(method: str) -> Fit:
    def fit(yi: np.ndarray, vi: np.ndarray) -> tuple[float, float, float]:
        m = MetaAnalysis(method).fit(yi, vi)  # type: ignore[arg-type]
        return m.estimate_, m.se_, m.tau2_

    return fit


def pymare_fit(method: str) -> Fit:
    from pymare import Dataset
    from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator

    def fit(yi: np.ndarray, vi: np.ndarray) -> tuple[float, float, float]:
        if method == "DL":
            est = DerSimonianLaird(small_sample_correction="wald").fit_dataset(Dataset(y=yi, v=vi))
        else:
            est = VarianceBasedLikelihoodEstimator(
                method="REML", small_sample_correction="wald"
            ).fit_dataset(Dataset(y=yi, v=vi))
        summary = est.summary()
        fe = summary.get_fe_stats()
        tau2 = float(np.asarray(summary.tau2).ravel()[0])
        return float(fe["est"].ravel()[0]), float(fe["se"].ravel()[0]), tau2

    return fit


def statsmodels_fit(method: str) -> Fit:
    from statsmodels.stats.meta_analysis import combine_effects

    method_re = {"DL": "chi2", "PM": "iterated"}[method]

    def fit(yi: np.ndarray, vi: np.ndarray) -> tuple[float, float, float]:
        res = combine_effects(yi, vi, method_re=method_re)
        return float(res.mean_effect_re), float(res.sd_eff_w_re), float(res.tau2)

    return fit


def max_rel(got: tuple[float, float, float], ref: tuple[float, float, float]) -> float:
    return max(abs(g - r) / abs(r) for g, r in zip(got, ref, strict=True))


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    vi = rng.uniform(0.005, 0.3, K)
    yi = rng.normal(-0.4, np.sqrt(vi + 0.08))
    return yi, vi


def main() -> None:
    yi, vi = synthetic()
    ref = json.loads(_reference_file().read_text())
    bcg_y, bcg_v = np.array(ref["yi"]), np.array(ref["vi"])
    rows = [
        ("prolo", "REML", ours("REML")),
        ("PyMARE", "REML", pymare_fit("REML")),
        ("statsmodels", "REML", None),
        ("prolo", "DL", ours("DL")),
        ("PyMARE", "DL", pymare_fit("DL")),
        ("statsmodels", "DL", statsmodels_fit("DL")),
        ("prolo", "PM", ours("PM")),
        ("statsmodels", "PM", statsmodels_fit("PM")),
    ]
    baseline = {m: ours(m)(yi, vi) for m in ("REML", "DL", "PM")}
    header = f"{'implementation':<13} {'method':<6} {'time, k=1000':>13} "
    header += f"{'max rel. dev. vs prolo (k=1000)':>32} {'max rel. dev. vs metafor (BCG)':>31}"
    print(header)
    print("-" * len(header))
    for name, method, fit in rows:
        if fit is None:
            print(f"{name:<13} {method:<6} {'not supported':>13}")
            continue
        seconds = min(timeit.repeat(lambda f=fit: f(yi, vi), number=1, repeat=REPEATS))
        vs_ours = max_rel(fit(yi, vi), baseline[method])
        m = ref["models"][method]
        vs_metafor = max_rel(fit(bcg_y, bcg_v), (m["estimate"], m["se"], m["tau2"]))
        dev = "baseline" if name == "prolo" else f"{vs_ours:.2e}"
        line = f"{name:<13} {method:<6} {seconds * 1000:>10.2f} ms {dev:>32} "
        print(line + f"{vs_metafor:>31.2e}")


if __name__ == "__main__":
    main()

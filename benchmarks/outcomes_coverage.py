"""Coverage of the multiple-imputation and weighting intervals on synthetic registries with
missing-at-random drop-out (issue 6, item 8).

For each seed: a synthetic registry (``prolo.synth``, MAR drop-out) is written to a fresh SQLite
file through the import path, extracted, and the estimand table for pain50@6m computed; an
interval "covers" when it contains the true rate the generator wrote in its truth file (the
success rate among all evaluable courses, from the complete outcomes before drop-out).
The same run with outcome-dependent drop-out (MNAR) shows the completers' figure far above the
truth and the missing = failure / missing = success bounds around it.

    uv run python benchmarks/outcomes_coverage.py --seeds 100 --patients 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from prolo.outcomes.estimands import estimand_table
from prolo.outcomes.extract import course_table
from prolo.registry.setup import initialise
from prolo.synth import params, run

DEFINITION = "pain50@6m"
ESTIMANDS = ("completers", "missing_failure", "missing_success", "multiple_imputation", "ipw")


def one(seed: int, patients: int, mnar: bool, folder: Path, imputations: int) -> dict[str, Any]:
    kind = "mnar" if mnar else "mar"
    url = f"sqlite:///{folder / f'seed{seed}-{kind}.db'}"
    initialise(url, admin_password="coverage check password")
    result = run.to_database(url, patients, seed, params.load(None, mnar=mnar))
    truth = float(result.truth["success_rate"][DEFINITION])
    table = course_table(url, measures=["nrs_back"])
    estimates = estimand_table(table, DEFINITION, imputations=imputations, seed=seed)
    row: dict[str, Any] = {"seed": seed, "truth": truth}
    for name in ESTIMANDS:
        e = estimates.get(name)
        row[name] = (e.estimate, e.ci_lb, e.ci_ub)
    Path(url.removeprefix("sqlite:///")).unlink()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--imputations", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for mnar in (False, True):
            rows = [
                one(s, args.patients, mnar, Path(folder), args.imputations)
                for s in range(1, args.seeds + 1)
            ]
            label = (
                "MNAR (non-responders stop answering)"
                if mnar
                else "MAR (drop-out depends on covariates)"
            )
            size = f"{args.seeds} seeds × {args.patients} patients"
            print(f"\n{label}: {size}, {DEFINITION}, m={args.imputations}")
            print(f"{'estimand':<22}{'covers truth':>14}{'mean estimate':>15}{'mean truth':>12}")
            mean_truth = sum(float(r["truth"]) for r in rows) / len(rows)
            for name in ESTIMANDS:
                covered = sum(1 for r in rows if r[name][1] <= r["truth"] <= r[name][2])
                mean = sum(r[name][0] for r in rows) / len(rows)
                print(f"{name:<22}{covered:>10}/{len(rows):<3}{mean:>15.3f}{mean_truth:>12.3f}")
            if mnar:
                inside = sum(
                    1
                    for r in rows
                    if r["missing_failure"][0] <= r["truth"] <= r["missing_success"][0]
                )
                print(f"bounds (failure ≤ truth ≤ success) hold in {inside}/{len(rows)} seeds")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

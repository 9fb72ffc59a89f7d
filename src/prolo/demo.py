"""`prolo demo`: a synthetic registry with known truth → the outcome report → the app, served.

It shows in two minutes why anecdote misleads: the completers' success rate lands in the claimed
80–90% while the true rate, known because the registry is synthetic, is far lower.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

DEMO_DATABASE = "sqlite:///prolo-demo.db"
DEMO_PATIENTS = 2000
DEMO_SEED = 20261124


@dataclass(frozen=True)
class DemoReady:
    url: str
    admin_password: str | None
    report: Path
    truth: Path
    summary: list[str]


def _fresh_sqlite(url: str) -> None:
    """The default demo database is rebuilt on every run, so its password is always shown."""
    path = make_url(url).database
    if path:
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


def prepare(url: str | None, *, patients: int = DEMO_PATIENTS, out: Path = Path(".")) -> DemoReady:
    from prolo.db import engine_for, transaction
    from prolo.registry.models import Patient
    from prolo.registry.setup import initialise
    from prolo.reports import render
    from prolo.reports.build import outcome_report
    from prolo.synth import params, run

    target = url or DEMO_DATABASE
    if url is None:
        _fresh_sqlite(target)
    started = time.perf_counter()
    initialised = initialise(target)
    with transaction(engine_for(target)) as session:
        existing = session.scalar(select(func.count()).select_from(Patient)) or 0
    truth_path = out / "prolo-demo-truth.json"
    if existing == 0:
        result = run.to_database(target, patients, DEMO_SEED, params.load(None))
        truth_path.write_text(json.dumps(result.truth, indent=1), encoding="utf-8")
    report = outcome_report(target, imputations=10)
    report_path = out / "prolo-demo-report.html"
    report_path.write_text(render.html(report), encoding="utf-8")
    summary = [
        f"synthetic registry and report ready in {time.perf_counter() - started:.0f} s: "
        f"{report.courses} courses; {report.tables[0].definition} ({report.tables[0].description}):"
    ]
    first = report.tables[0]
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else {}
    true_rate = truth.get("success_rate", {}).get(first.definition)
    for estimate in first.estimates:
        if estimate.estimate is not None:
            summary.append(
                f"  {estimate.estimand:<20} {estimate.estimate:6.1%} "
                f"(95% CI {estimate.ci_lb:.1%}–{estimate.ci_ub:.1%}), n={estimate.denominator}"
            )
    if true_rate is not None:
        summary.append(f"  {'true rate':<20} {true_rate:6.1%}  (known: the registry is synthetic)")
    summary += [f"  ! {w}" for w in first.warnings]
    return DemoReady(target, initialised.admin_password, report_path, truth_path, summary)

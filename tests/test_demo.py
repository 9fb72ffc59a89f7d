"""`prolo demo` from an empty folder: the completers' figure far above the known truth, the
missing = failure / missing = success bounds around it, a report written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_shows_why_anecdote_misleads(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROLO_")}
    result = subprocess.run(
        [sys.executable, "-m", "prolo.cli", "demo", "--no-serve", "--patients", "1500"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "log in as admin with the one-time password" in result.stdout
    truth = json.loads((tmp_path / "prolo-demo-truth.json").read_text())["success_rate"][
        "pain50@6m"
    ]
    figures = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[0] in ("completers", "missing_failure", "missing_success"):
            figures[parts[0]] = float(parts[1].rstrip("%")) / 100
    assert figures["completers"] > truth + 0.2
    assert 0.80 <= figures["completers"] <= 0.90
    assert figures["missing_failure"] <= truth <= figures["missing_success"]
    report = (tmp_path / "prolo-demo-report.html").read_text()
    assert "not trustworthy" in report and "<svg" in report

"""``prolo evidence``: JSON output, exit status 2 on invalid input, trials, plots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from evidence_reference import close, load_references
from typer.testing import CliRunner

from prolo.cli import app

RUNNER = CliRunner()
KEYS = {"k", "estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2", "H2", "Q", "Q_pval"}
KEYS |= {"pi_lb", "pi_ub"}


def _bcg(tmp_path: Path, measure: str) -> tuple[Path, dict[str, Any]]:
    ref = dict(load_references())[f"bcg_{measure}"]
    path = tmp_path / "bcg.csv"
    rows = ["author,ai,bi,ci,di"]
    rows += [f"{r['author']},{r['ai']},{r['bi']},{r['ci']},{r['di']}" for r in ref["input"]]
    path.write_text("\n".join(rows) + "\n")
    return path, ref


@pytest.mark.parametrize(
    ("method", "extra", "model"),
    [("REML", [], "REML"), ("PM", ["--hksj"], "PM+HKSJ"), ("EE", [], "EE"), ("DL", [], "DL")],
)
def test_pool_json_matches_metafor(
    tmp_path: Path, method: str, extra: list[str], model: str
) -> None:
    path, ref = _bcg(tmp_path, "OR")
    args = ["evidence", "pool", str(path), "--measure", "OR", "--method", method, *extra]
    result = RUNNER.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= KEYS
    expected = ref["models"][model]
    assert all(close(out[k], expected[k]) for k in KEYS - {"k"})
    assert out["k"] == 13


def test_pool_mh_json(tmp_path: Path) -> None:
    path, ref = _bcg(tmp_path, "RR")
    result = RUNNER.invoke(
        app, ["evidence", "pool", str(path), "--measure", "RR", "--mh", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert all(close(out[k], v) for k, v in ref["mantel_haenszel"].items())
    assert out["tau2"] == 0


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("ai,n1i,ci,n2i\n3,10,4,12\n5,x,2,9\n", ["--measure", "OR"], "row 2, column 'n1i'"),
        ("ai,n1i,ci,n2i\n3,10,4,12\n", ["--measure", "SMD"], "column 'm1i'"),
        ("m1i,sd1i,n1i,m2i,sd2i,n2i\n1,1,5,2,1,5\n", ["--measure", "MD", "--mh"], "Mantel"),
        ("xi,ni\n3,10\n4,2\n", ["--measure", "PLO"], "row 2, column 'xi'"),
    ],
)
def test_invalid_input_exits_2_naming_row_and_column(
    tmp_path: Path, content: str, options: list[str], message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = RUNNER.invoke(app, ["evidence", "pool", str(path), *options, "--format", "json"])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_unknown_measure_and_missing_file_exit_2(tmp_path: Path) -> None:
    bad = RUNNER.invoke(app, ["evidence", "pool", "x.csv", "--measure", "HR"])
    assert bad.exit_code == 2
    missing = RUNNER.invoke(app, ["evidence", "pool", str(tmp_path / "no.csv"), "--measure", "OR"])
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_pool_bundled_table_back_transforms() -> None:
    result = RUNNER.invoke(app, ["evidence", "pool", "--measure", "OR", "--format", "table"])
    assert result.exit_code == 0, result.output
    assert "as odds ratio" in result.stdout and "Ongley 1987, Klein 1993" in result.stdout


def test_trials_lists_citations() -> None:
    result = RUNNER.invoke(app, ["evidence", "trials"])
    assert result.exit_code == 0
    assert "Lancet 1987;2(8551):143-146" in result.stdout
    as_json = json.loads(RUNNER.invoke(app, ["evidence", "trials", "--format", "json"]).stdout)
    assert {t["study_id"] for t in as_json} >= {"ongley1987", "klein1993", "yelland2004"}


def test_plot_writes_png_and_svg(tmp_path: Path) -> None:
    path, _ = _bcg(tmp_path, "RR")
    out = tmp_path / "plots" / "forest.png"
    args = ["evidence", "plot", str(path), "--measure", "RR", "--out", str(out)]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    png, svg = out, out.with_suffix(".svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "Aronson" in svg.read_text()


def test_beside_writes_figure_and_rejects_bad_rates(tmp_path: Path) -> None:
    out = tmp_path / "beside.svg"
    ok = RUNNER.invoke(
        app,
        ["evidence", "beside", "--registry", "missing = failure:0.4:0.35:0.45", "--out", str(out)],
    )
    assert ok.exit_code == 0, ok.output
    assert "control groups also improved" in out.read_text()
    bad = RUNNER.invoke(
        app, ["evidence", "beside", "--registry", "x:0.5:0.6:0.7", "--out", str(out)]
    )
    assert bad.exit_code == 2 and "LOWER <= ESTIMATE" in bad.stderr


def test_prolo_help_does_not_import_numerics() -> None:
    code = (
        "import sys, prolo.cli; "
        "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_leave_one_out_json_and_mh_refusal(tmp_path: Path) -> None:
    path, _ = _bcg(tmp_path, "OR")
    args = ["evidence", "pool", str(path), "--measure", "OR", "--leave-one-out"]
    result = RUNNER.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    loo = json.loads(result.stdout)["leave_one_out"]
    assert [row["study"] for row in loo][:2] == ["Aronson", "Ferguson & Simes"]
    assert all(row["tau2"] >= 0 for row in loo)
    refused = RUNNER.invoke(app, [*args, "--mh"])
    assert refused.exit_code == 2 and "--mh" in refused.stderr

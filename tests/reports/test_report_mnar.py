"""The report on a synthetic MNAR registry with tracing: the double-sampling estimand, the
sensitivity list's contract, clustered intervals said, and the HTML and PDF showing them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prolo.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def traced_registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    folder = tmp_path_factory.mktemp("traced")
    url = f"sqlite:///{folder / 'registry.db'}"
    made = runner.invoke(
        app,
        [
            *("synth", "--patients", "800", "--seed", "12", "--database", url),
            *("--truth", str(folder / "truth.json"), "--no-progress"),
            *("--trace-fraction", "0.25", "--trace-found", "0.85"),
        ],
    )
    assert made.exit_code == 0, made.output
    return url, json.loads((folder / "truth.json").read_text())


def test_json_has_double_sampling_and_the_sensitivity_list(
    traced_registry: tuple[str, dict[str, object]],
) -> None:
    url, truth = traced_registry
    result = runner.invoke(
        app, ["report", "--database", url, "--format", "json", "--imputations", "4"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {e["estimand"]: e for e in report["estimands"]}
    ds = rows["double_sampling"]
    assert set(ds) == set(rows["completers"])  # the same fields as the others
    true_rate = truth["success_rate"]["pain50@6m"]  # type: ignore[index]
    assert ds["ci_lb"] <= true_rate <= ds["ci_ub"]
    assert (
        not rows["multiple_imputation"]["ci_lb"]
        <= true_rate
        <= rows["multiple_imputation"]["ci_ub"]
    )
    (entry,) = report["sensitivity"]
    assert set(entry) == {"definition", "scale", "grid", "tipping_point"}
    assert entry["definition"] == "pain50@6m" and entry["scale"] == "score"
    assert set(entry["grid"][0]) == {"delta", "estimate", "ci_lb", "ci_ub"}
    assert set(entry["tipping_point"]) == {"delta", "text"}
    assert "patients who stopped answering" in entry["tipping_point"]["text"]
    assert (
        "design effect" in rows["completers"]["method"] or "Wilson" in rows["completers"]["method"]
    )


def test_html_and_pdf_show_them(
    traced_registry: tuple[str, dict[str, object]], tmp_path: Path
) -> None:
    url, _ = traced_registry
    page = tmp_path / "report.html"
    made = runner.invoke(
        app,
        [
            *("report", "--database", url, "--format", "html", "--imputations", "3"),
            *("--definition", "pain50@6m", "--definition", "composite@6m", "--out", str(page)),
        ],
    )
    assert made.exit_code == 0, made.output
    html = page.read_text()
    assert "Double sampling (traced non-responders)" in html
    assert html.count("Sensitivity to drop-out that depends on the outcome") == 2
    assert "Tipping point" in html or "Even if" in html
    assert "odds of success" in html  # composite: the log-odds scale
    pdf = tmp_path / "report.pdf"
    made = runner.invoke(
        app,
        [
            *("report", "--database", url, "--format", "pdf", "--imputations", "3"),
            *("--definition", "pain50@6m", "--out", str(pdf)),
        ],
    )
    assert made.exit_code == 0, made.output
    assert pdf.read_bytes().startswith(b"%PDF")

"""Write the report as self-contained HTML (inline SVG, no network) or PDF."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from prolo.reports import figures
from prolo.reports.build import OutcomeReport


def _figures(report: OutcomeReport) -> dict[str, object]:
    made: dict[str, object] = {
        f"estimands_{i}": figures.estimands_against_claim(t) for i, t in enumerate(report.tables)
    }
    for i, analysis in enumerate(report.sensitivity):
        if analysis.grid:
            made[f"sensitivity_{i}"] = figures.sensitivity(analysis, report.claim_band)
    made["flow"] = figures.flow(report.sections["flow"])
    for t in report.trajectories:
        made[f"trajectory_{t.measure}"] = figures.trajectory(t.rows, t.measure)
    made.update(figures.section_figures(report.sections))
    return made


def html(report: OutcomeReport) -> str:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
    )
    svgs = {name: figures.svg(fig) for name, fig in _figures(report).items()}  # type: ignore[arg-type]
    filters = ", ".join(f"{k}: {v}" for k, v in report.filters.items() if v)
    return environment.get_template("report.html").render(
        report=report,
        figures=svgs,
        trajectory_figures=[(k, v) for k, v in svgs.items() if k.startswith("trajectory_")],
        extra_figures=[
            (figures.SECTION_TITLES[k], v) for k, v in svgs.items() if k in figures.SECTION_TITLES
        ],
        labels=figures.LABELS,
        filters=filters,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def pdf(report: OutcomeReport, path: Path) -> None:
    """A PDF: a summary page of the estimands, then every figure on its own page."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as document:
        page = plt.figure(figsize=(8.27, 11.69))
        lines = [
            "Prolo Outcomes — outcome report",
            "",
            f"{report.courses} treatment courses. Intervals are 95%.",
            "",
        ]
        for t in report.tables:
            lines.append(f"{t.definition}: {t.description}")
            share = t.completeness["proportion"]
            lines.append(
                f"  completeness {t.completeness['followed']}/{t.completeness['evaluable']}"
                + (f" ({share:.0%})" if share is not None else "")
            )
            for e in t.estimates:
                if e.estimate is None:
                    continue
                lines.append(
                    f"  {figures.LABELS[e.estimand]}: {e.estimate:.1%} "
                    f"({e.ci_lb:.1%}–{e.ci_ub:.1%}), n={e.denominator}; {e.verdict}"
                )
            lines.extend(f"  ! {w}" for w in t.warnings)
            lines.extend(
                "  " + chunk
                for s in report.sensitivity
                if s.definition == t.definition
                for chunk in textwrap.wrap("Sensitivity: " + s.tipping_point["text"], 110)
            )
            lines.append("")
        page.text(0.06, 0.97, "\n".join(lines), va="top", family="monospace", fontsize=7.5)
        document.savefig(page)
        plt.close(page)
        for figure in _figures(report).values():
            document.savefig(figure)  # type: ignore[arg-type]
            plt.close(figure)  # type: ignore[arg-type]

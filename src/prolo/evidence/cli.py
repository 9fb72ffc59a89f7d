"""``prolo evidence``: pool studies, list the bundled trials, draw forest plots.

Heavy imports (numpy, scipy, matplotlib) live inside the commands so ``prolo --help`` is
instant. Invalid input exits with status 2 and one line naming the row and column.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from prolo.evidence.pooling import Pooled

app = typer.Typer(
    help="Meta-analysis of the randomized trials and of your own studies (reproduces metafor).",
    no_args_is_help=True,
)


class MeasureChoice(StrEnum):
    RR = "RR"
    OR = "OR"
    RD = "RD"
    MD = "MD"
    SMD = "SMD"
    PLO = "PLO"


class MethodChoice(StrEnum):
    EE = "EE"
    DL = "DL"
    REML = "REML"
    PM = "PM"


class FormatChoice(StrEnum):
    json = "json"
    table = "table"


class OutcomeChoice(StrEnum):
    binary = "binary"
    continuous = "continuous"


FileArg = Annotated[
    Path | None,
    typer.Argument(
        help="CSV with metafor escalc columns (ai,bi,ci,di | ai,n1i,ci,n2i | "
        "m1i,sd1i,n1i,m2i,sd2i,n2i | xi,ni); omit to use the bundled trials.",
        show_default=False,
    ),
]
MeasureOpt = Annotated[
    MeasureChoice | None,
    typer.Option("--measure", help="Effect measure (default: OR binary, SMD continuous)."),
]
MethodOpt = Annotated[MethodChoice, typer.Option("--method", help="EE or tau^2 estimator.")]
HksjOpt = Annotated[bool, typer.Option("--hksj", help="Hartung-Knapp-Sidik-Jonkman test.")]
MhOpt = Annotated[bool, typer.Option("--mh", help="Mantel-Haenszel pooling (RR, OR, RD).")]
ComparisonOpt = Annotated[
    str, typer.Option("--comparison", help="Bundled trials: the comparison to pool.")
]
OutcomeOpt = Annotated[
    OutcomeChoice, typer.Option("--outcome", help="Bundled trials: binary or continuous rows.")
]
LowOpt = Annotated[
    bool, typer.Option("--include-low-confidence", help="Bundled trials: keep confidence=low.")
]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _run_pool(
    file: Path | None,
    measure: MeasureChoice | None,
    method: MethodChoice,
    hksj: bool,
    mh: bool,
    comparison: str,
    outcome: OutcomeChoice,
    include_low: bool,
) -> Pooled:
    from prolo.evidence.errors import EvidenceInputError
    from prolo.evidence.pooling import pool, pool_bundled
    from prolo.evidence.tau2 import ConvergenceError
    from prolo.evidence.trials import load_studies

    m = measure.value if measure else None
    try:
        if file is None:
            return pool_bundled(
                comparison=comparison,
                outcome=outcome.value,
                measure=m,
                method=method.value,
                hksj=hksj,
                mh=mh,
                include_low_confidence=include_low,
            )
        if m is None:
            _fail("--measure is required when a FILE is given")
        if not file.is_file():
            _fail(f"no such file: {file}")
        studies = load_studies(file)
        return pool(studies, measure=m, method=method.value, hksj=hksj, mh=mh, title=file.stem)
    except EvidenceInputError as exc:
        _fail(str(exc))
    except ConvergenceError as exc:
        _fail(str(exc), code=1)


def _table(pooled: Pooled) -> str:
    from prolo.evidence.effects import back_transform, measure_label

    d = pooled.fit.to_dict()
    measure = pooled.effects.measure
    lines = [pooled.fit.summary]
    if measure in ("RR", "OR", "PLO"):
        import numpy as np

        keys = ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub")
        nat = back_transform(measure)(np.array([d[k] for k in keys], dtype=float))
        lines.append(
            f"  as {measure_label(measure)}: {nat[0]:.4g} [{nat[1]:.4g}, {nat[2]:.4g}], "
            f"prediction [{nat[3]:.4g}, {nat[4]:.4g}]"
        )
    lines.append("  studies: " + ", ".join(pooled.labels))
    return "\n".join(lines)


@app.command("pool")
def pool_command(
    file: FileArg = None,
    measure: MeasureOpt = None,
    method: MethodOpt = MethodChoice.REML,
    hksj: HksjOpt = False,
    mh: MhOpt = False,
    fmt: Annotated[FormatChoice, typer.Option("--format", help="json or table.")] = (
        FormatChoice.table
    ),
    comparison: ComparisonOpt = "prolotherapy_with_cointerventions",
    outcome: OutcomeOpt = OutcomeChoice.binary,
    include_low: LowOpt = False,
    leave_one_out: Annotated[
        bool, typer.Option("--leave-one-out", help="Also refit without each study in turn.")
    ] = False,
) -> None:
    """Pool FILE's studies (or the bundled trials) and print the result.

    JSON keys: k, estimate, se, ci_lb, ci_ub, pval, tau2, I2, H2, Q, Q_pval, pi_lb, pi_ub
    on the analysis scale (log for RR/OR, logit for PLO).
    """
    pooled = _run_pool(file, measure, method, hksj, mh, comparison, outcome, include_low)
    loo = _leave_one_out(pooled) if leave_one_out else None
    if fmt is FormatChoice.json:
        out = pooled.fit.to_dict()
        if loo is not None:
            out["leave_one_out"] = loo
        typer.echo(json.dumps(out))
        return
    typer.echo(_table(pooled))
    for row in loo or []:
        typer.echo(
            f"  without {row['study']}: estimate {row['estimate']:.4g} "
            f"[{row['ci_lb']:.4g}, {row['ci_ub']:.4g}], tau2 {row['tau2']:.4g}, I2 {row['I2']:.3g}%"
        )


def _leave_one_out(pooled: Pooled) -> list[dict[str, Any]]:
    from prolo.evidence.models import MetaAnalysis

    if not isinstance(pooled.fit, MetaAnalysis):
        _fail("--leave-one-out needs an inverse-variance model (not --mh)")
    if pooled.fit.k_ < 2:
        _fail("--leave-one-out needs at least two studies")
    frame = pooled.fit.leave_one_out()
    rows = []
    for record in frame.to_dict(orient="records"):
        row = {str(key): value for key, value in record.items()}
        row["study"] = pooled.labels[int(row["omitted"]) - 1]
        rows.append(row)
    return rows


@app.command("trials")
def trials_command(
    fmt: Annotated[FormatChoice, typer.Option("--format", help="json or table.")] = (
        FormatChoice.table
    ),
) -> None:
    """List the bundled randomized trials with their citations."""
    from prolo.evidence.trials import bundled_trials

    trials = bundled_trials()
    if fmt is FormatChoice.json:
        typer.echo(json.dumps([t.to_dict() for t in trials]))
        return
    for t in trials:
        arms = _arms(t.to_dict())
        typer.echo(
            f"{t.study_id:<20} {t.comparison:<34} {t.measure_type:<10} "
            f"{_months(t.timepoint_months):>6}  {arms:<32} {t.confidence:<6} {t.citation}"
        )


def _months(value: float | None) -> str:
    return "-" if value is None else f"{value:g} mo"


def _arms(d: dict[str, Any]) -> str:
    if d["measure_type"] == "binary":
        return f"{d['ai']}/{d['n1i']} vs {d['ci']}/{d['n2i']}"
    if d["measure_type"] == "continuous":
        return f"{d['m1i']:g} ({d['sd1i']:g}) vs {d['m2i']:g} ({d['sd2i']:g})"
    return "no extractable data"


@app.command("plot")
def plot_command(
    out: Annotated[Path, typer.Option("--out", help="Output path; .png and .svg are written.")],
    file: FileArg = None,
    measure: MeasureOpt = None,
    method: MethodOpt = MethodChoice.REML,
    hksj: HksjOpt = False,
    mh: MhOpt = False,
    comparison: ComparisonOpt = "prolotherapy_with_cointerventions",
    outcome: OutcomeOpt = OutcomeChoice.binary,
    include_low: LowOpt = False,
) -> None:
    """Draw a forest plot of FILE (or of the bundled trials) as PNG and SVG."""
    from prolo.evidence.forest import forest_figure, save_figure

    pooled = _run_pool(file, measure, method, hksj, mh, comparison, outcome, include_low)
    for path in save_figure(forest_figure(pooled), out):
        typer.echo(str(path))


@app.command("beside")
def beside_command(
    out: Annotated[Path, typer.Option("--out", help="Output path; .png and .svg are written.")],
    registry: Annotated[
        list[str],
        typer.Option(
            "--registry",
            help="A registry rate as LABEL:ESTIMATE:LOWER:UPPER (proportions), repeatable.",
        ),
    ],
) -> None:
    """Draw registry success rates beside the trials' pooled prolotherapy and control arms."""
    from prolo.evidence.forest import save_figure
    from prolo.evidence.registry_beside_trials import Rate, registry_beside_trials_figure

    rates = []
    for i, spec in enumerate(registry, start=1):
        parts = spec.rsplit(":", 3)
        try:
            est, lb, ub = (float(p) for p in parts[1:])
        except ValueError:
            _fail(f"--registry value {i} must be LABEL:ESTIMATE:LOWER:UPPER, got {spec!r}")
        if not 0 <= lb <= est <= ub <= 1:
            _fail(f"--registry value {i} needs 0 <= LOWER <= ESTIMATE <= UPPER <= 1")
        rates.append(Rate(f"Registry: {parts[0]}", est, lb, ub))
    for path in save_figure(registry_beside_trials_figure(rates), out):
        typer.echo(str(path))

"""Benchmark: export and re-import of a synthetic registry in every exchange format.

One SQLite registry of ``--patients`` synthetic patients is generated first (through the bulk
import path, not timed here: see benchmarks/synth_import.py). Then each step runs in its own
child process, so that its peak memory (``VmHWM``) is its own:

* ``analysis-csv`` / ``analysis-parquet``: ``prolo export analysis`` (long + wide + dictionary)
* ``fhir-export``: ``prolo export fhir`` (every resource validated, codes checked)
* ``fhir-import``: ``prolo import fhir`` of that Bundle into an empty database
* ``omop``: ``prolo export omop``
* ``redcap``: ``prolo import redcap`` of a project of ``--patients`` records made from the
  example project's good records (examples/redcap), into its own database

Printed per step: wall time, peak memory of the child, size of what was written.

Run: ``uv run python benchmarks/exchange.py --patients 10000 [--steps fhir-export,...]``.
Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peak_memory import peak_memory_mb

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "redcap"
STEPS = ("analysis-csv", "analysis-parquet", "fhir-export", "fhir-import", "omop", "redcap")
PASSWORD = "benchmark admin password"


def size_of(path: Path) -> int:
    if path.is_file():  # a SQLite file counts with its write-ahead log
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def redcap_records(records: int, out: Path) -> Path:
    """The example's good records (1, 2, 3, 6) copied under new record ids, ``records`` in all."""
    import pandas as pd

    example = pd.read_csv(EXAMPLE / "records.csv", dtype=str, keep_default_na=False)
    good = [example[example["record_id"] == r] for r in ("1", "2", "3", "6")]
    parts = []
    for number in range(1, records + 1):
        part = good[number % len(good)].copy()
        part["record_id"] = str(number)
        parts.append(part)
    path = out / "records.csv"
    pd.concat(parts).to_csv(path, index=False)
    return path


def child(step: str, source: str, work: Path) -> dict[str, Any]:
    from prolo.interop.deidentify import study_key
    from prolo.registry.setup import initialise

    key, _ = study_key("benchmark key")
    started = time.perf_counter()
    written: Path
    detail: dict[str, Any] = {}
    if step.startswith("analysis"):
        from prolo.interop import analysis

        fmt = step.split("-")[1]
        written = work / step
        report = analysis.export(source, written, fmt, key=key)  # type: ignore[arg-type]
        detail = {"courses": report.courses, "item_rows": report.assessment_rows}
    elif step == "fhir-export":
        from prolo.interop import fhir

        written = work / "registry.json"
        detail = {"resources": sum(fhir.export_bundle(source, written).resources.values())}
    elif step == "fhir-import":
        from prolo.interop import fhir

        target = f"sqlite:///{work / 'fhir-import.db'}"
        initialise(target, admin_password=PASSWORD)
        started = time.perf_counter()
        imported = fhir.import_bundle(target, work / "registry.json")
        detail = {"rows": sum(imported.written.values()), "problems": len(imported.problems)}
        written = work / "fhir-import.db"
    elif step == "omop":
        from prolo.interop import omop

        written = work / "omop"
        detail = {"rows": sum(omop.export(source, written, key=key).rows.values())}
    elif step == "redcap":
        from prolo.interop import bulk, files, redcap

        target = f"sqlite:///{work / 'redcap.db'}"
        initialise(target, admin_password=PASSWORD)
        importer = bulk.Importer(target)
        for part in files.discover([EXAMPLE / "clinic"]):
            for frame in files.read(part, 1000):
                importer.import_batch({part.table: frame})
        patients = int(os.environ["BENCH_PATIENTS"])
        records = redcap_records(patients, work)
        started = time.perf_counter()
        report = redcap.import_project(
            target,
            redcap.load_mapping(EXAMPLE / "mapping.yaml"),
            redcap.load_dictionary(EXAMPLE / "data_dictionary.csv"),
            redcap.read_records(records),
        )
        detail = {
            "created": sum(report.created.values()),
            "rejected_records": len(report.rejected_records),
        }
        written = work / "redcap.db"
    else:
        raise SystemExit(f"unknown step {step}")
    seconds = time.perf_counter() - started
    peak_mb = peak_memory_mb()
    return {
        "step": step,
        "seconds": round(seconds, 1),
        "peak_mb": round(peak_mb),
        "mb_written": round(size_of(written) / 1e6, 1),
        **detail,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--work", type=Path, default=None, help="Folder (default: a temp one).")
    parser.add_argument(
        "--child", nargs=3, metavar=("STEP", "SOURCE", "WORK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        step, source, work = args.child
        print(json.dumps(child(step, source, Path(work))))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="prolo-exchange-"))
    work.mkdir(parents=True, exist_ok=True)
    source = f"sqlite:///{work / 'source.db'}"
    from prolo.registry.setup import initialise
    from prolo.synth.params import load
    from prolo.synth.run import to_database

    started = time.perf_counter()
    initialise(source, admin_password=PASSWORD)
    to_database(source, args.patients, 1, load())
    print(
        f"registry: {args.patients} patients, {size_of(work / 'source.db') / 1e6:.0f} MB, "
        f"generated in {time.perf_counter() - started:.0f} s ({work})",
        flush=True,
    )
    print(f"{'step':<18}{'seconds':>9}{'peak MB':>9}{'MB out':>9}  detail", flush=True)
    environment = {**os.environ, "BENCH_PATIENTS": str(args.patients)}
    for step in args.steps.split(","):
        done = subprocess.run(
            [sys.executable, __file__, "--child", step, source, str(work)],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
        )
        if done.returncode != 0:
            print(f"{step:<18} failed: {done.stderr[-800:]}", flush=True)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        detail = {
            k: v for k, v in result.items() if k not in ("step", "seconds", "peak_mb", "mb_written")
        }
        print(
            f"{step:<18}{result['seconds']:>9}{result['peak_mb']:>9}{result['mb_written']:>9}  "
            f"{detail}",
            flush=True,
        )


if __name__ == "__main__":
    main()

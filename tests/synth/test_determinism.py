"""Same seed → identical database content; the Parquet files import to the same content."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from prolo.cli import app
from prolo.db import engine_for
from prolo.interop.tables import TABLES

runner = CliRunner()
VOLATILE = {"created_at", "updated_at"}


def checksum(url: str) -> str:
    """SHA-256 over every imported table's rows in id order (timestamps left out)."""
    digest = hashlib.sha256()
    with engine_for(url).connect() as connection:
        for name, spec in TABLES.items():
            columns = [c for c in spec.table.columns if c.name not in VOLATILE]
            for row in connection.execute(select(*columns).order_by(spec.table.c.id)):
                digest.update(repr((name, tuple(row))).encode())
    return digest.hexdigest()


def synth(tmp_path: Path, name: str, seed: int, *extra: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    result = runner.invoke(
        app,
        [
            "synth",
            "--patients",
            "300",
            "--seed",
            str(seed),
            "--database",
            url,
            "--truth",
            str(tmp_path / f"{name}.json"),
            "--no-progress",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return url


def test_same_seed_same_content_and_parquet_round_trip(tmp_path: Path) -> None:
    first = checksum(synth(tmp_path, "a.db", 5))
    assert checksum(synth(tmp_path, "b.db", 5)) == first
    assert checksum(synth(tmp_path, "c.db", 6)) != first
    assert (tmp_path / "a.db.json").read_text() == (tmp_path / "b.db.json").read_text()
    out = tmp_path / "parquet"
    made = runner.invoke(
        app,
        [
            "synth",
            "--patients",
            "300",
            "--seed",
            "5",
            "--out",
            str(out),
            "--truth",
            str(tmp_path / "p.json"),
            "--no-progress",
        ],
    )
    assert made.exit_code == 0, made.output
    url = f"sqlite:///{tmp_path / 'imported.db'}"
    imported = runner.invoke(app, ["import", str(out), "--database", url, "--no-progress"])
    assert imported.exit_code == 0, imported.output
    assert checksum(url) == first


def test_import_reports_rejected_rows_and_fails(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "sites.csv").write_text("id,code,name\n1,A,Clinic A\n2,bad code!,Clinic B\n")
    url = f"sqlite:///{tmp_path / 'files.db'}"
    result = runner.invoke(app, ["import", str(folder), "--database", url, "--no-progress"])
    assert result.exit_code == 1
    assert "sites row 2: code: should match" in result.output
    with engine_for(url).connect() as connection:
        assert connection.execute(select(TABLES["sites"].table.c.id)).all() == []


def test_csv_files_import_to_the_same_content(tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "parquet"
    made = runner.invoke(
        app,
        [
            "synth",
            "--patients",
            "200",
            "--seed",
            "9",
            "--out",
            str(out),
            "--truth",
            str(tmp_path / "t.json"),
            "--no-progress",
        ],
    )
    assert made.exit_code == 0, made.output
    csv = tmp_path / "csv"
    csv.mkdir()
    for folder in out.iterdir():
        frame = pd.concat(pd.read_parquet(part) for part in sorted(folder.iterdir()))
        frame.to_csv(csv / f"{folder.name}.csv", index=False)
    from_parquet = f"sqlite:///{tmp_path / 'p.db'}"
    from_csv = f"sqlite:///{tmp_path / 'c.db'}"
    for source, url in ((out, from_parquet), (csv, from_csv)):
        done = runner.invoke(app, ["import", str(source), "--database", url, "--no-progress"])
        assert done.exit_code == 0, done.output
    assert checksum(from_csv) == checksum(from_parquet)

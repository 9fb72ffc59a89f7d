"""Tidy analysis files: study ids instead of identifiers, days from the first injection, item
answers as stored, success as the definitions say, identified output only for an admin token."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from prolo.cli import app
from prolo.db import engine_for, transaction
from prolo.interop import analysis
from prolo.interop.deidentify import study_id
from prolo.security import service
from prolo.security.principal import system

KEY = b"a project's secret key"
runner = CliRunner()


@pytest.fixture(scope="module")
def exported(synthetic_registry: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analysis")
    analysis.export(synthetic_registry, out, "csv", key=KEY)
    return out


def stored(url: str) -> pd.DataFrame:
    with engine_for(url).connect() as connection:
        return pd.read_sql(
            text(
                "SELECT a.course_id, a.patient_id, a.instrument, a.assessed_on, a.items, a.score, "
                "(SELECT MIN(session_date) FROM injection_sessions s WHERE s.course_id = "
                "a.course_id) AS first_injection FROM assessments a WHERE a.course_id IS NOT NULL"
            ),
            connection,
        )


def test_study_ids_are_the_keyed_hash_and_no_identifier_leaves(
    synthetic_registry: str, exported: Path
) -> None:
    long = pd.read_csv(exported / "assessments.csv")
    wide = pd.read_csv(exported / "courses.csv")
    rows = stored(synthetic_registry)
    expected = {
        "P" + hmac.new(KEY, f"patient:{p}".encode(), hashlib.sha256).hexdigest()[:16]
        for p in rows["patient_id"].unique()
    }
    assert set(long["study_id"]) == expected
    assert set(wide["study_id"]) <= expected
    assert study_id(7, KEY) != study_id(7, b"another key")
    for forbidden in ("course_id", "patient_id", "external_id", "assessed_on", "birth_date"):
        assert forbidden not in long.columns and forbidden not in wide.columns
    assert wide["age"].max() <= 90


def test_the_long_table_holds_every_answer_with_days_from_the_first_injection(
    synthetic_registry: str, exported: Path
) -> None:
    long = pd.read_csv(exported / "assessments.csv", keep_default_na=False, na_values=[""])
    rows = stored(synthetic_registry)
    answers = sum(len(json.loads(items)) for items in rows["items"])
    assert len(long) == answers
    first = rows.iloc[0]
    day = (
        dt.date.fromisoformat(str(first["assessed_on"]))
        - dt.date.fromisoformat(str(first["first_injection"]))
    ).days
    mine = long[
        (long["study_id"] == study_id(int(first["patient_id"]), KEY))
        & (long["instrument"] == first["instrument"])
        & (long["day"] == day)
    ]
    items = json.loads(first["items"])
    assert len(mine) == len(items)
    for (_, row), answer in zip(mine.sort_values("item_number").iterrows(), items, strict=True):
        if isinstance(answer, str):
            assert row["missing_code"] == answer and pd.isna(row["value"])
        elif answer is not None:
            assert row["value"] == float(answer)
    coded = rows["items"].str.contains('"missing"|"refused"|"not_asked"').sum()
    assert (long["missing_code"].notna().sum() > 0) == (coded > 0)


def test_success_follows_the_definition(exported: Path) -> None:
    wide = pd.read_csv(exported / "courses.csv")
    base, six = wide["nrs_back_baseline"], wide["nrs_back_6m"]
    followed = base.gt(0) & six.notna()
    by_hand = (base - six) / base >= 0.5
    got = wide["success_pain50_6m"]
    assert followed.sum() > 5
    assert (got[followed].astype(bool) == by_hand[followed]).all()
    assert got[~followed].isna().all()
    dictionary = pd.read_csv(exported / "dictionary.csv")
    described = set(dictionary.loc[dictionary["table"] == "courses", "column"])
    assert described == set(wide.columns)
    assert dictionary["definition"].notna().all()


def test_parquet_holds_the_same_rows(synthetic_registry: str, tmp_path: Path) -> None:
    analysis.export(synthetic_registry, tmp_path, "parquet", key=KEY)
    long = pd.read_parquet(tmp_path / "assessments.parquet")
    assert long["day"].dtype == "int64"
    assert len(long) == sum(len(json.loads(i)) for i in stored(synthetic_registry)["items"])
    assert len(pd.read_parquet(tmp_path / "courses.parquet")) == 50


def test_identified_output_needs_an_admin_token(synthetic_registry: str, tmp_path: Path) -> None:
    url = synthetic_registry
    refused = runner.invoke(
        app, ["export", "analysis", "--database", url, "--out", str(tmp_path), "--identified"]
    )
    assert refused.exit_code == 1 and "administrator's API token" in refused.output
    with transaction(engine_for(url)) as session:
        admin = service.issue_token(
            session, username="admin", scope="admin", days=1, name=None, actor=system()
        ).secret
        reader = service.issue_token(
            session, username="admin", scope="read", days=1, name=None, actor=system()
        ).secret
    args = ["export", "analysis", "--database", url, "--out", str(tmp_path), "--identified"]
    weak = runner.invoke(app, [*args, "--admin-token", reader])
    assert weak.exit_code == 1 and "scope admin" in weak.output
    done = runner.invoke(app, [*args, "--admin-token", admin])
    assert done.exit_code == 0, done.output
    wide = pd.read_csv(tmp_path / "courses.csv")
    assert {"course_id", "patient_id", "external_id"} <= set(wide.columns)
    with engine_for(url).connect() as connection:
        logged = connection.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE action = 'export'")
        ).scalar()
    assert logged == 1


def test_both_databases_give_the_files(fresh_url: str, tmp_path: Path) -> None:
    from prolo.synth.params import load
    from prolo.synth.run import to_database

    to_database(fresh_url, 15, 9, load())
    report = analysis.export(fresh_url, tmp_path, "parquet", key=KEY)
    long = pd.read_parquet(tmp_path / "assessments.parquet")
    assert report.courses == 15
    answers = [i if isinstance(i, list) else json.loads(i) for i in stored(fresh_url)["items"]]
    assert len(long) == sum(len(a) for a in answers)
    assert long["day"].notna().all() and long["study_id"].str.startswith("P").all()

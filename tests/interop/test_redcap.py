"""The example REDCap project imports through the API's rules: rejected rows are reported with
record, event, field and reason; a second import duplicates nothing and turns changed values
into audited updates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from prolo.assessments.models import Assessment
from prolo.cli import app
from prolo.db import engine_for
from prolo.interop import redcap
from prolo.registry.models import AuditEntry, InjectionSession, Patient, TreatmentCourse

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "redcap"
runner = CliRunner()


@pytest.fixture
def clinic(fresh_url: str) -> str:
    done = runner.invoke(
        app, ["import", str(EXAMPLE / "clinic"), "--database", fresh_url, "--no-progress"]
    )
    assert done.exit_code == 0, done.output
    return fresh_url


def redcap_args(url: str, records: Path = EXAMPLE / "records.csv") -> list[str]:
    return [
        "import",
        "redcap",
        "--dictionary",
        str(EXAMPLE / "data_dictionary.csv"),
        "--records",
        str(records),
        "--mapping",
        str(EXAMPLE / "mapping.yaml"),
        "--database",
        url,
    ]


def count(url: str, model: type) -> int:
    with engine_for(url).connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(model)) or 0)


def test_the_example_imports_and_its_bad_records_are_named(clinic: str) -> None:
    result = runner.invoke(app, redcap_args(clinic))
    assert result.exit_code == 1
    out = result.output
    assert "record 4, event baseline_arm_1, field sex: choice 9 (Prefer not to say)" in out
    assert "record 5, event baseline_arm_1, field dx_icd10: 'lumbago' is not an ICD-10-CM" in out
    assert "record 5, event treatment_arm_1, instance 2, field inj_conc: 60.0%" in out
    assert "no treatment course with id" not in out, "consequences of a rejection are not noise"
    assert "2 record(s) rejected and not imported: 4, 5" in out
    assert count(clinic, Patient) == 4
    assert count(clinic, InjectionSession) == 12
    with engine_for(clinic).connect() as connection:
        targets = connection.execute(
            select(InjectionSession.targets).order_by(InjectionSession.id).limit(1)
        ).scalar_one()
        refused = connection.execute(
            select(Assessment.items).where(Assessment.instrument == "ODI")
        ).scalars()
        assert any("refused" in items for items in refused)
        points = set(connection.execute(select(Assessment.time_point)).scalars())
    assert targets == [
        {"target": "lumbar_facet_capsule", "levels": ["L4-L5", "L5-S1"], "side": "bilateral"}
    ]
    assert {"baseline", "6w", "3m", "6m"} <= points


def test_dry_run_writes_nothing(clinic: str) -> None:
    result = runner.invoke(app, [*redcap_args(clinic), "--dry-run"])
    assert "patients: 4 new rows valid" in result.output
    assert count(clinic, Patient) == 0


def test_a_second_import_updates_what_changed_and_duplicates_nothing(
    clinic: str, tmp_path: Path
) -> None:
    runner.invoke(app, redcap_args(clinic))
    before = {m: count(clinic, m) for m in (Patient, TreatmentCourse, Assessment)}
    records = pd.read_csv(EXAMPLE / "records.csv", dtype=str, keep_default_na=False)
    first = (records["record_id"] == "1") & (records["redcap_event_name"] == "baseline_arm_1")
    records.loc[first, "tx_sessions"] = "4"
    six_weeks = (records["record_id"] == "2") & (records["redcap_event_name"] == "6w_arm_1")
    records.loc[six_weeks, "nrs_back"] = "1"
    changed = tmp_path / "records.csv"
    records.to_csv(changed, index=False)
    again = runner.invoke(app, redcap_args(clinic, changed))
    assert "treatment_courses: 1 rows updated" in again.output
    assert "assessments: 1 rows updated" in again.output
    assert {m: count(clinic, m) for m in before} == before
    with engine_for(clinic).connect() as connection:
        updates = connection.execute(
            select(AuditEntry.entity, AuditEntry.before, AuditEntry.after).where(
                AuditEntry.action == "update"
            )
        ).all()
        scores = connection.execute(
            text("SELECT score FROM assessments WHERE instrument = 'NRS' AND time_point = '6w'")
        ).scalars()
        assert 1.0 in set(scores)
    entities = sorted(e for e, _, _ in updates)
    assert entities == ["assessment", "treatment_course"]
    course = next(a for e, _, a in updates if e == "treatment_course")
    assert course["planned_sessions"] == 4


def test_a_mapping_that_does_not_fit_the_dictionary_is_refused(tmp_path: Path) -> None:
    text_ = (EXAMPLE / "mapping.yaml").read_text().replace("birth_date: dob", "birth_date: born")
    text_ = text_.replace('"2": male', '"7": male')
    (tmp_path / "mapping.yaml").write_text(text_)
    shutil.copy(EXAMPLE / "data_dictionary.csv", tmp_path)
    with pytest.raises(redcap.MappingError) as error:
        redcap.check_mapping(
            redcap.load_mapping(tmp_path / "mapping.yaml"),
            redcap.load_dictionary(tmp_path / "data_dictionary.csv"),
        )
    assert "patients.birth_date: REDCap field 'born' is not in the data dictionary" in str(
        error.value
    )
    assert "patients.sex: code '7' is not a choice of sex (1, 2, 3, 9)" in str(error.value)


def test_the_old_form_of_prolo_import_still_works(fresh_url: str) -> None:
    checked = runner.invoke(
        app, ["import", "--check", str(EXAMPLE / "clinic" / "sites.csv"), "--database", fresh_url]
    )
    assert checked.exit_code == 0, checked.output
    assert "sites: 1 rows valid" in checked.output
    listed = runner.invoke(app, ["import", "--help"]).output
    for command in ("files", "redcap", "fhir"):
        assert command in listed


def test_batches_of_records_give_the_same_result(clinic: str) -> None:
    mapping = redcap.load_mapping(EXAMPLE / "mapping.yaml")
    dictionary = redcap.load_dictionary(EXAMPLE / "data_dictionary.csv")
    records = redcap.read_records(EXAMPLE / "records.csv")
    report = redcap.import_project(clinic, mapping, dictionary, records, records_per_batch=2)
    assert report.rejected_records == ["4", "5"]
    assert report.created["patients"] == 4 and report.created["injection_sessions"] == 12
    assert count(clinic, Patient) == 4

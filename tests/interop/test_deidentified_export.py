"""`prolo export deidentified`: identifiers of every kind planted in a registry appear in no
exported file; dates become days from the first injection, ages over 89 become 90."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from prolo.assessments.models import Assessment
from prolo.cli import app as cli
from prolo.db import Base
from prolo.interop import deidentified
from prolo.interop.deidentify import study_id
from prolo.registry import models as m
from tests import factories

# Every kind of identifier Safe Harbor lists that the registry can hold, planted as text that
# would be found verbatim if it leaked.
NAMES = ("Zebulon", "Quaxworthy")
CONTACTS = ("zebulon.quaxworthy@planted.example", "+1 555 0199 4242")
RECORD_NUMBERS = ("MRN-PLANTED-77123", "CERT-PLANTED-9981")
FREE_TEXT = "lives at 12 Elmwood Lane, Springfield; brother Ezekiel"
PRACTITIONER = "Dr Hortensia Planted"
SITE = ("Springfield Planted Clinic", "SPRPLT")
BIRTH = dt.date(1921, 3, 14)  # 103 years old at the first injection: exported as 90
FIRST_INJECTION = dt.date(2024, 2, 29)
DATES = (BIRTH, FIRST_INJECTION, dt.date(2023, 7, 19), dt.date(2024, 6, 3), dt.date(2023, 1, 11))


def _plant(db: Session) -> dict[str, int]:
    site = factories.site(db, code=SITE[1], name=SITE[0])
    doctor = factories.practitioner(db, at=site, name=PRACTITIONER)
    person = factories.patient(
        db,
        at=site,
        external_id=RECORD_NUMBERS[0],
        given_name=NAMES[0],
        family_name=NAMES[1],
        email=CONTACTS[0],
        phone=CONTACTS[1],
        birth_date=BIRTH,
        consent_date=DATES[4],
    )
    diagnosis = factories.condition(db, of=person, onset_date=DATES[2], notes=FREE_TEXT)
    factories.prior_treatment(db, of=diagnosis, start_date=DATES[4], end_date=DATES[4])
    course = factories.course(db, of=diagnosis, by=doctor, start_date=FIRST_INJECTION)
    session = factories.injection_session(db, of=course, session_date=FIRST_INJECTION)
    course.stop_reason = FREE_TEXT
    db.add_all(
        [
            m.TrainingRecord(
                practitioner_id=doctor.id,
                organization="other",
                organization_other=FREE_TEXT,
                course=FREE_TEXT,
                completed_on=DATES[4],
                hours=20.0,
                certificate_id=RECORD_NUMBERS[1],
            ),
            m.CoIntervention(
                course_id=course.id,
                intervention_type="exercise",
                start_date=DATES[3],
                notes=FREE_TEXT,
            ),
            m.AdverseEvent(
                course_id=course.id,
                session_id=session.id,
                event_type="pain_flare",
                grade=1,
                onset_date=DATES[3],
                description=FREE_TEXT,
            ),
            m.Recurrence(
                course_id=course.id, kind="pain", event_date=DATES[3], description=FREE_TEXT
            ),
            m.WorkStatus(patient_id=person.id, recorded_on=DATES[3], status="working"),
            m.ObjectiveMeasure(
                patient_id=person.id,
                course_id=course.id,
                measured_on=DATES[3],
                measure_type="grip",
                method="dynamometer",
                value=31.5,
                finding=FREE_TEXT,
            ),
            Assessment(
                patient_id=person.id,
                course_id=course.id,
                instrument="NRS",
                assessed_on=DATES[3],
                source="clinic",
                items=[6],
                score=6.0,
                scorable=True,
                flags=[],
                day=95,
                time_point="3m",
            ),
        ]
    )
    db.flush()
    return {"patient": person.id, "course": course.id}


def _planted_strings() -> list[str]:
    found = [*NAMES, *CONTACTS, *RECORD_NUMBERS, FREE_TEXT, PRACTITIONER, *SITE]
    found += ["Elmwood", "Ezekiel", "Hortensia"]
    for day in DATES:
        found += [day.isoformat(), day.strftime("%m/%d/%Y"), day.strftime("%d/%m/%Y")]
    return found


def _read(path: Path) -> list[dict[str, object]]:
    table = pq.read_table(path) if path.suffix == ".parquet" else pa_csv.read_csv(path)
    return table.to_pylist()  # type: ignore[no-any-return]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_no_planted_identifier_appears_in_any_exported_file(
    db: Session, tmp_path: Path, fmt: deidentified.Format
) -> None:
    ids = _plant(db)
    key = b"test key"
    report = deidentified.export(db, tmp_path, fmt, key=key)
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in report.files}
    assert set(report.rows) == set(deidentified.POLICIES)

    planted = _planted_strings()
    for path in report.files:
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        # Parquet may compress, so its values are checked once decoded as well.
        decoded = json.dumps(_read(path), default=str) if path.suffix == ".parquet" else ""
        for value in planted:
            assert value not in text and value not in decoded, f"{value!r} leaked into {path}"
            assert value.encode() not in raw

    patients = _read(tmp_path / f"patients.{fmt}")
    ours = [row for row in patients if row["patient"] == study_id(ids["patient"], key)]
    assert len(ours) == 1
    assert ours[0]["age_at_first_injection"] == 90
    assert ours[0]["consent_day"] == (DATES[4] - FIRST_INJECTION).days
    assert "external_id" not in ours[0] and "birth_date" not in ours[0]

    sessions = [
        row
        for row in _read(tmp_path / f"injection_sessions.{fmt}")
        if row["course"] == deidentified.record_code("course", ids["course"], key)
    ]
    assert [row["session_day"] for row in sessions] == [0]
    conditions = _read(tmp_path / f"conditions.{fmt}")
    assert (DATES[2] - FIRST_INJECTION).days in [row["onset_day"] for row in conditions]
    for name in report.rows:
        columns = set(_read(tmp_path / f"{name}.{fmt}")[0]) if report.rows[name] else set()
        assert not columns & {"id", "patient_id", "course_id", "created_at", "updated_at"}


def test_every_column_of_every_clinical_table_is_classified() -> None:
    assert deidentified.unclassified_columns() == {}
    exported = set(deidentified.POLICIES)
    left_out = set(Base.metadata.tables) - exported
    # Tables left out on purpose: identity and sessions, the audit trail (it holds before and
    # after values), the links sent to patients, keys of other systems, settings, vocabularies.
    assert left_out == {
        "users",
        "user_sites",
        "api_tokens",
        "web_sessions",
        "audit_log",
        "invitations",
        "external_keys",
        "registry_settings",
        "vocabulary_terms",
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [("02134", "021"), ("03601", "000"), ("89301-1234", "000"), ("12", "000"), (None, None)],
)
def test_zip_codes_keep_three_digits_or_000(given: str | None, expected: str | None) -> None:
    assert deidentified.zip3(given) == expected


def test_ages_over_89_are_90() -> None:
    assert deidentified.age_in_years(dt.date(1930, 6, 1), dt.date(2020, 5, 31)) == 89
    assert deidentified.age_in_years(dt.date(1930, 6, 1), dt.date(2020, 6, 1)) == 90
    assert deidentified.age_in_years(dt.date(1900, 1, 1), dt.date(2020, 6, 1)) == 90


def test_the_command_writes_stable_codes_with_the_registry_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROLO_STUDY_ID_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--database", url]).exit_code == 0
    from prolo.synth.params import load
    from prolo.synth.run import to_database

    to_database(url, 8, 3, load())
    first = runner.invoke(
        cli, ["export", "deidentified", "--database", url, "--out", str(tmp_path / "a")]
    )
    assert first.exit_code == 0, first.output
    assert "patients.csv: 8 rows" in first.output
    second = runner.invoke(
        cli,
        [
            "export",
            "deidentified",
            "--database",
            url,
            "--out",
            str(tmp_path / "b"),
            "--format",
            "parquet",
        ],
    )
    assert second.exit_code == 0, second.output
    in_csv = sorted(str(r["patient"]) for r in _read(tmp_path / "a" / "patients.csv"))
    in_parquet = sorted(str(r["patient"]) for r in _read(tmp_path / "b" / "patients.parquet"))
    assert in_csv == in_parquet and len(set(in_csv)) == 8
    wrong = runner.invoke(
        cli, ["export", "deidentified", "--database", url, "--out", str(tmp_path), "--format", "x"]
    )
    assert wrong.exit_code == 1 and "--format" in wrong.output

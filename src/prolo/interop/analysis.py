"""Tidy analysis files: a long table of assessments, a wide table of courses, and a dictionary.

``assessments`` has one row per item answer (course, patient study id, time point, day,
instrument, item, value, missing code, score); ``courses`` has one row per course (covariates,
scores by time point, success by each pre-specified definition). Days count from each course's
first injection (its planned start when it has none), so no date leaves the database. Patients
are named by study ids (:func:`prolo.interop.deidentify.study_id`); database ids and exact ages
over 89 appear only in identified output, which needs an administrator's token.

The long table is read and written course range by course range, so memory is bounded by one
range whatever the size of the registry.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from prolo.instruments.definitions import catalogue
from prolo.interop.deidentify import cap_ages, study_ids
from prolo.outcomes.definitions import evaluate, parse
from prolo.outcomes.extract import Filters, Source
from prolo.outcomes.store import analysis_table
from prolo.outcomes.table import COVARIATES, MEASURES, TIME_POINTS

Format = Literal["csv", "parquet"]
MISSING_CODES = ("not_asked", "missing", "refused")
DEFINITIONS = (
    "pain50@6m",
    "pain30@6m",
    "odi30@6m",
    "odi10pt@6m",
    "rmdq30@6m",
    "ndi30@6m",
    "composite@6m",
    "pgic@6m",
    "pain50@12m",
)
COURSES_PER_READ = 20_000

ASSESSMENT_COLUMNS: dict[str, pa.DataType] = {
    "course": pa.string(),
    "study_id": pa.string(),
    "time_point": pa.string(),
    "day": pa.int64(),
    "instrument": pa.string(),
    "item": pa.string(),
    "item_number": pa.int64(),
    "value": pa.float64(),
    "missing_code": pa.string(),
    "score": pa.float64(),
}
IDENTIFIED_ASSESSMENT_COLUMNS: dict[str, pa.DataType] = {
    "course_id": pa.int64(),
    "patient_id": pa.int64(),
    "assessment_id": pa.int64(),
    "assessed_on": pa.date32(),
}


@dataclass
class AnalysisReport:
    files: list[Path] = field(default_factory=list)
    assessment_rows: int = 0
    courses: int = 0


def success_column(definition: str) -> str:
    return "success_" + definition.replace("@", "_")


def success_columns(table: pd.DataFrame, definitions: tuple[str, ...]) -> pd.DataFrame:
    """One nullable boolean per definition: true/false when evaluable and observed, else empty."""
    out = {}
    for name in definitions:
        result = evaluate(name, table)
        values = pd.array(
            [None if np.isnan(v) else bool(v) for v in result.success], dtype="boolean"
        )
        out[success_column(name)] = values
    return pd.DataFrame(out, index=table.index)


def _course_keys(source: Source, filters: Filters) -> pd.DataFrame:
    """Each selected course's patient and its number among the patient's courses (by start)."""
    frame = source.query(
        "SELECT c.id AS course_id, c.patient_id, c.start_date, p.external_id "
        "FROM treatment_courses c JOIN patients p ON p.id = c.patient_id "
        "JOIN conditions d ON d.id = c.condition_id "
        f"WHERE {filters.where()}"
    ).to_pandas()
    if frame.empty:
        return pd.DataFrame(
            {"course_id": [], "patient_id": [], "start_date": [], "external_id": [], "number": []}
        )
    frame["start_date"] = frame["start_date"].astype(str)
    frame = frame.sort_values(["patient_id", "start_date", "course_id"])
    frame["number"] = frame.groupby("patient_id").cumcount() + 1
    ordered: pd.DataFrame = frame.sort_values("course_id").reset_index(drop=True)
    return ordered


def _name_courses(keys: pd.DataFrame, key: bytes) -> pd.DataFrame:
    keys = keys.copy()
    keys["study_id"] = study_ids(keys["patient_id"], key)
    keys["course"] = keys["study_id"] + "-" + keys["number"].astype(str)
    return keys


def _explode(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per item answer: numbers (true/false as 1/0) in ``value``, codes apart."""
    items_of = {code: [i.id for i in inst.items] for code, inst in catalogue().items()}
    index: list[int] = []
    names: list[str] = []
    numbers: list[int] = []
    values: list[float | None] = []
    codes: list[str | None] = []
    for position, (instrument, raw) in enumerate(
        zip(rows["instrument"], rows["items"], strict=True)
    ):
        answers = json.loads(raw) if isinstance(raw, str) else (raw or [])
        ids = items_of.get(instrument, [])
        for number, answer in enumerate(answers, start=1):
            index.append(position)
            names.append(ids[number - 1] if number <= len(ids) else f"item{number}")
            numbers.append(number)
            if isinstance(answer, str):
                values.append(None)
                codes.append(answer if answer in MISSING_CODES else None)
            elif answer is None:
                values.append(None)
                codes.append(None)
            else:
                values.append(float(answer))
                codes.append(None)
    picked = rows.iloc[index].reset_index(drop=True)
    picked["item"] = names
    picked["item_number"] = numbers
    picked["value"] = pd.array(values, dtype="Float64")
    picked["missing_code"] = codes
    return picked


def _assessment_chunks(source: Source, keys: pd.DataFrame, identified: bool) -> Iterator[pa.Table]:
    columns = dict(ASSESSMENT_COLUMNS)
    if identified:
        columns |= IDENTIFIED_ASSESSMENT_COLUMNS
    schema = pa.schema(list(columns.items()))
    course_ids = keys["course_id"].to_numpy()
    for start in range(0, len(course_ids), COURSES_PER_READ):
        chunk = course_ids[start : start + COURSES_PER_READ]
        low, high = int(chunk.min()), int(chunk.max())
        rows = source.query(
            "SELECT id AS assessment_id, course_id, patient_id, instrument, assessed_on, items, "
            "CAST(score AS REAL) AS score, day, time_point FROM assessments "
            f"WHERE retired_at IS NULL AND course_id BETWEEN {low} AND {high} "
            "AND items IS NOT NULL ORDER BY course_id, assessed_on, id"
        ).to_pandas()
        if rows.empty:
            continue
        rows = rows.merge(
            keys[["course_id", "course", "study_id"]], on="course_id", how="inner"
        )  # retired courses and patients drop out here
        long = _explode(rows)
        long["assessed_on"] = pd.to_datetime(long["assessed_on"]).dt.date
        yield pa.Table.from_pandas(long[list(columns)], schema=schema, preserve_index=False)


class _Writer:
    """Appends Arrow tables to one CSV or Parquet file."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: Format) -> None:
        self.path = path
        self.fmt = fmt
        self.schema = schema
        self._writer: Any = (
            pq.ParquetWriter(path, schema) if fmt == "parquet" else pa_csv.CSVWriter(path, schema)
        )

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        self._writer.close()


def write_assessments(
    source: Source, keys: pd.DataFrame, out: Path, fmt: Format, identified: bool
) -> int:
    columns = ASSESSMENT_COLUMNS | (IDENTIFIED_ASSESSMENT_COLUMNS if identified else {})
    writer = _Writer(out / f"assessments.{fmt}", pa.schema(list(columns.items())), fmt)
    rows = 0
    try:
        for table in _assessment_chunks(source, keys, identified):
            writer.write(table)
            rows += table.num_rows
    finally:
        writer.close()
    return rows


def wide_courses(
    url: str, keys: pd.DataFrame, identified: bool, definitions: tuple[str, ...] = DEFINITIONS
) -> pd.DataFrame:
    # From the analysis store (refreshed first when stale), as the reports read it.
    table = analysis_table(url).table.to_pandas()
    table = table.merge(
        keys[["course_id", "course", "study_id", "external_id"]], on="course_id", how="inner"
    )
    table = pd.concat([table, success_columns(table, definitions)], axis=1)
    scores = [f"{m}_{t}" for m in MEASURES for t in TIME_POINTS]
    rest = [
        c
        for c in table.columns
        if c not in {"course", "study_id", "course_id", "patient_id", "external_id", "site_id"}
        and c not in COVARIATES
        and c not in scores
        and not c.startswith("success_")
    ]
    ids = ["course", "study_id", "site_id", "practitioner_id"]
    ordered = [
        *ids,
        *[c for c in COVARIATES if c != "practitioner_id"],
        *scores,
        *rest,
        *[success_column(d) for d in definitions],
    ]
    if identified:
        ordered = ["course_id", "patient_id", "external_id", *ordered]
    else:
        table["age"] = cap_ages(table["age"])
    return table[[c for c in dict.fromkeys(ordered) if c in table.columns]]


def export(
    url: str,
    out: Path,
    fmt: Format,
    *,
    key: bytes,
    identified: bool = False,
    filters: Filters | None = None,
) -> AnalysisReport:
    """Write ``assessments.<fmt>``, ``courses.<fmt>`` and ``dictionary.csv`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    source = Source(url)
    keys = _name_courses(_course_keys(source, filters or Filters()), key)
    report = AnalysisReport()
    report.assessment_rows = write_assessments(source, keys, out, fmt, identified)
    report.files.append(out / f"assessments.{fmt}")
    wide = wide_courses(url, keys, identified)
    path = out / f"courses.{fmt}"
    if fmt == "parquet":
        wide.to_parquet(path, index=False)
    else:
        wide.to_csv(path, index=False)
    report.files.append(path)
    report.courses = len(wide)
    dictionary = out / "dictionary.csv"
    write_dictionary(dictionary, list(wide.columns), identified)
    report.files.append(dictionary)
    return report


# --- the data dictionary ----------------------------------------------------------------------

Entry = tuple[str, str, str, str]  # type, unit, definition, allowed values
TIME_POINT_WORDS = ", ".join(TIME_POINTS)
MEASURE_WORDS = {
    "nrs_back": ("NRS", "back or neck pain, numeric rating scale", "points", "0–10"),
    "nrs_leg": ("NRS_LEG", "leg or arm pain, numeric rating scale", "points", "0–10"),
    "odi": ("ODI", "Oswestry Disability Index", "percent", "0–100"),
    "rmdq": ("RMDQ", "Roland-Morris Disability Questionnaire", "points", "0–24"),
    "ndi": ("NDI", "Neck Disability Index", "percent", "0–100"),
    "pgic": ("PGIC", "Patient Global Impression of Change (1 very much improved)", "", "1–7"),
}
ASSESSMENT_DICTIONARY: dict[str, Entry] = {
    "course": (
        "string",
        "",
        "the treatment course: the patient's study id and the course's number among the "
        "patient's courses by start date",
        "",
    ),
    "study_id": ("string", "", "the patient's study id (keyed hash; no identifier)", ""),
    "time_point": (
        "string",
        "",
        "the follow-up window holding the day; empty outside every window",
        TIME_POINT_WORDS,
    ),
    "day": ("integer", "days", "day of the assessment counted from the first injection (0)", ""),
    "instrument": ("string", "", "the questionnaire", ", ".join(sorted(catalogue()))),
    "item": ("string", "", "the item's identifier in the instrument's definition", ""),
    "item_number": ("integer", "", "the item's position in the instrument (1 = first)", ""),
    "value": ("number", "", "the answer (true/false as 1/0); empty when missing", ""),
    "missing_code": (
        "string",
        "",
        "why the answer is missing; empty when answered (or simply blank)",
        ", ".join(MISSING_CODES),
    ),
    "score": ("number", "", "the instrument's score, computed by the server from the items", ""),
    "course_id": ("integer", "", "IDENTIFIED: the course's database id", ""),
    "patient_id": ("integer", "", "IDENTIFIED: the patient's database id", ""),
    "assessment_id": ("integer", "", "IDENTIFIED: the assessment's database id", ""),
    "assessed_on": ("date", "", "IDENTIFIED: the date of the assessment", "YYYY-MM-DD"),
}
COURSE_DICTIONARY: dict[str, Entry] = {
    "course": ASSESSMENT_DICTIONARY["course"],
    "study_id": ASSESSMENT_DICTIONARY["study_id"],
    "course_id": ASSESSMENT_DICTIONARY["course_id"],
    "patient_id": ASSESSMENT_DICTIONARY["patient_id"],
    "external_id": ("string", "", "IDENTIFIED: the clinic's record number of the patient", ""),
    "site_id": ("integer", "", "the site's database id", ""),
    "practitioner_id": ("integer", "", "the practitioner's database id", ""),
    "region": (
        "string",
        "",
        "body region of the treated condition",
        "cervical, thoracic, lumbar, sacroiliac_pelvic",
    ),
    "age": ("number", "years", "age at the first injection (whole years, 90 = 90 or older)", ""),
    "sex": ("string", "", "sex", "female, male, other, unknown"),
    "diagnosis_confirmation": (
        "string",
        "",
        "how the diagnosis was confirmed",
        "palpation_provocation, anesthetic_block, imaging, none",
    ),
    "duration_months": ("number", "months", "pain duration from onset to the first injection", ""),
    "planned_sessions": ("integer", "sessions", "injection sessions planned", ""),
    "sessions_done": ("integer", "sessions", "injection sessions recorded", ""),
    "followup_therapy_adherence": (
        "number",
        "percent",
        "mean adherence to prescribed follow-up therapy; empty when none was prescribed",
        "0–100",
    ),
    "practitioner_years": ("integer", "years", "the practitioner's years in practice", ""),
    "practitioner_trained": (
        "boolean",
        "",
        "the practitioner has a verified prolotherapy training record",
        "true, false",
    ),
    "practitioner_prior_procedures": (
        "integer",
        "procedures",
        "prolotherapy procedures the practitioner did before joining the registry",
        "",
    ),
    "recurrence_observed": ("boolean", "", "a recurrence was recorded", "true, false"),
    "time_to_recurrence_days": ("number", "days", "first injection to first recurrence", ""),
    "last_contact_days": (
        "number",
        "days",
        "first injection to the last assessment or recurrence",
        "",
    ),
}


def course_entry(column: str) -> Entry:
    if column in COURSE_DICTIONARY:
        return COURSE_DICTIONARY[column]
    if column.startswith("success_"):
        name = column.removeprefix("success_")
        name = name[::-1].replace("_", "@", 1)[::-1]
        return (
            "boolean",
            "",
            f"success by {name}: {parse(name).describe()}; empty when not evaluable or not "
            "followed at the time point",
            "true, false",
        )
    for measure, (code, words, unit, allowed) in MEASURE_WORDS.items():
        for point in TIME_POINTS:
            if column == f"{measure}_{point}":
                return (
                    "number",
                    unit,
                    f"{words} ({code}) at {point}: the assessment nearest the target day in "
                    "the window (baseline: the latest); empty when none",
                    allowed,
                )
    return ("", "", "", "")


def write_dictionary(path: Path, course_columns: list[str], identified: bool) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["table", "column", "type", "unit", "definition", "allowed_values"])
        for column, entry in ASSESSMENT_DICTIONARY.items():
            if identified or column not in IDENTIFIED_ASSESSMENT_COLUMNS:
                writer.writerow(["assessments", column, *entry])
        for column in course_columns:
            writer.writerow(["courses", column, *course_entry(column)])

"""Validate one table of one batch: shape, ids, business rules, uniqueness, computed columns.

The result holds the rows ready to store and the rejected rows with their reasons. Valid rows
become visible to the tables that follow in the same batch (a course may refer to a condition
of the same file batch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from prolo.assessments.models import SOURCES
from prolo.followup.schedule import DEFAULT, Schedule
from prolo.interop import rules, shape
from prolo.interop.items import score_items
from prolo.interop.known import IN_CHUNK, Known, Vocabularies, one_of
from prolo.interop.problems import Problems, values_at
from prolo.interop.tables import TableSpec
from prolo.registry import rules as api_rules

UNIQUE: dict[str, tuple[str, ...]] = {
    "sites": ("code",),
    "practitioner_sites": ("practitioner_id", "site_id"),
    "patients": ("site_id", "external_id"),
}


@dataclass
class Checked:
    spec: TableSpec
    rows: pd.DataFrame  # valid rows, storable columns
    problems: Problems


def validate(
    spec: TableSpec,
    frame: pd.DataFrame,
    rows: np.ndarray[Any, Any],
    known: Known,
    vocab: Vocabularies,
    *,
    source: str = "",
    schedule: Schedule = DEFAULT,
) -> Checked:
    shape.check_columns(spec.name, frame, spec.schema)
    frame = frame.reset_index(drop=True)
    p = Problems(spec.name, rows, source)
    ids = _ids(spec, frame["id"], p, known)
    clean = shape.check(frame, spec.schema, p)
    clean.insert(0, "id", ids)
    rules.generic(spec, clean, p, known, vocab)
    if spec.name in rules.SPECIFIC:
        rules.SPECIFIC[spec.name](clean, p, known, vocab)
    if spec.name in UNIQUE:
        _unique(spec, clean, p, known)
    if spec.name == "treatment_courses":
        clean["eligibility_warnings"] = eligibility_warnings(clean, known, vocab)
    if spec.name == "assessments":
        clean = _assessments(clean, p, known, schedule)
    # ``clean`` is this function's own frame: with nothing rejected it is stored as it is.
    good = clean.loc[p.good].reset_index(drop=True) if p.bad.any() else clean
    known.add(spec.name, good)
    return Checked(spec, good, p)


def _ids(spec: TableSpec, raw: pd.Series, p: Problems, known: Known) -> pd.Series:
    values = pd.to_numeric(raw, errors="coerce")
    number = values.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = np.isnan(number) | (number < 1) | (np.mod(np.nan_to_num(number), 1) != 0)
    p.add(bad, "id", values_at(raw, "{v} is not a positive whole number"))
    ids = shape.whole_numbers(values.where(~bad))
    twice = ids.duplicated(keep="first").to_numpy() & ~bad
    p.add(twice, "id", values_at(ids, "id {v} appears twice in this import"))
    taken = known.existing_ids(spec.name, ids.where(~bad)) & ~bad
    p.add(taken, "id", values_at(ids, "a record with id {v} already exists"))
    return ids


def _unique(spec: TableSpec, clean: pd.DataFrame, p: Problems, known: Known) -> None:
    """The table's unique constraint, within the batch and against the database."""
    columns = UNIQUE[spec.name]
    key = pd.MultiIndex.from_frame(clean[list(columns)].astype(object))
    label = " and ".join(columns)
    p.add(
        key.duplicated(keep="first") & p.good, columns[-1], f"the same {label} twice in this import"
    )
    t = spec.table
    candidates = clean.loc[p.good, list(columns)]
    # Each key column among the batch's values (the unique index serves that), by chunks of
    # the last column; the exact pairs are then matched here.
    fixed = [
        one_of(known.connection, t.c[c], _plain_list(candidates[c].dropna().unique()))
        for c in columns[:-1]
    ]
    last = _plain_list(candidates[columns[-1]].dropna().unique())
    existing: list[tuple[Any, ...]] = []
    for start in range(0, len(last), IN_CHUNK):
        chunk = last[start : start + IN_CHUNK]
        query = select(*(t.c[c] for c in columns)).where(
            *fixed, one_of(known.connection, t.c[columns[-1]], chunk)
        )
        existing.extend(tuple(r) for r in known.connection.execute(query))
    if existing:
        taken = key.isin(pd.MultiIndex.from_tuples(existing))
        p.add(taken, columns[-1], f"a record with this {label} already exists")


def _plain_list(values: Any) -> list[Any]:
    """Python values for bound parameters (numpy and pandas scalars are not)."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values, dtype=object)]


def months_between(earlier: pd.Series, later: pd.Series) -> pd.Series:
    """Whole calendar months (``registry.rules.months_between`` over columns)."""
    months = (later.dt.year - earlier.dt.year) * 12 + (later.dt.month - earlier.dt.month)
    result: pd.Series = months - (later.dt.day < earlier.dt.day).astype(int)
    return result


def eligibility_warnings(clean: pd.DataFrame, known: Known, vocab: Vocabularies) -> pd.Series:
    """``registry.rules.eligibility_warnings`` over a column of courses (JSON text per row)."""
    onset = known.lookup("conditions", clean["condition_id"], ["onset_date"])["onset_date"]
    months = months_between(onset, clean["start_date"])
    chronic = api_rules.CHRONIC_MONTHS
    failed = _failed_nonsurgical(clean, known, vocab)
    # The text depends only on (months when not chronic, failed therapy documented): one
    # json.dumps per distinct pair, not per course.
    month = months.to_numpy(dtype=float)
    short = ~np.isnan(month) & (month < chronic)
    shown = np.where(short, month, np.inf)
    codes, pairs = pd.factorize(pd.MultiIndex.from_arrays([shown, np.asarray(failed, dtype=bool)]))
    distinct = []
    for value, ok in pairs:
        found = []
        if np.isfinite(value):
            found.append(
                f"not chronic: {int(value)} months from onset to the course start "
                f"(eligibility needs at least {chronic})"
            )
        if not ok:
            found.append(
                "no documented failed nonsurgical therapy for this condition "
                "(eligibility needs at least one)"
            )
        distinct.append(json.dumps(found))
    texts = np.asarray(distinct, dtype=object)[codes]
    return pd.Series(texts, dtype=object)


def _failed_nonsurgical(
    clean: pd.DataFrame, known: Known, vocab: Vocabularies
) -> np.ndarray[Any, Any]:
    from prolo.registry.models import PriorTreatment as PT

    parts = []
    here = known.batch.get("prior_treatments")
    if here is not None:
        parts.append(here[["patient_id", "condition_id", "treatment_type", "result"]])
    outside = clean["patient_id"].dropna().unique()
    if here is not None:
        new_patients = known.batch.get("patients")
        if new_patients is not None:
            outside = outside[~np.isin(outside, new_patients.index.to_numpy())]
    for start in range(0, len(outside), IN_CHUNK):
        chunk = [int(i) for i in outside[start : start + IN_CHUNK]]
        rows = known.connection.execute(
            select(PT.patient_id, PT.condition_id, PT.treatment_type, PT.result).where(
                one_of(known.connection, PT.patient_id, chunk), PT.retired_at.is_(None)
            )
        ).all()
        parts.append(
            pd.DataFrame(rows, columns=["patient_id", "condition_id", "treatment_type", "result"])
        )
    parts = [part for part in parts if len(part)]
    if not parts:
        return np.zeros(len(clean), dtype=bool)
    prior = pd.concat(parts)
    types = vocab.codes.get("prior_treatment_type", set())
    nonsurgical_types = [
        t for t in types if vocab.attributes[("prior_treatment_type", t)].get("nonsurgical", True)
    ]
    nonsurgical = prior["treatment_type"].isin(nonsurgical_types)
    prior = prior[prior["result"].eq("failed") & nonsurgical]
    condition = pd.to_numeric(prior["condition_id"]).fillna(-1).astype(float)
    pairs = pd.MultiIndex.from_arrays([prior["patient_id"].astype(float), condition])
    patient = clean["patient_id"].astype(float)
    own = pd.MultiIndex.from_arrays([patient, clean["condition_id"].astype(float)]).isin(pairs)
    any_condition = pd.MultiIndex.from_arrays([patient, np.full(len(clean), -1.0)]).isin(pairs)
    return np.asarray(own | any_condition)


def _assessments(
    clean: pd.DataFrame, p: Problems, known: Known, schedule: Schedule
) -> pd.DataFrame:
    bad_source = clean["source"].notna().to_numpy() & ~clean["source"].isin(SOURCES).to_numpy()
    p.add(
        bad_source,
        "source",
        values_at(clean["source"], f"{{v!r}} is not one of {', '.join(SOURCES)}"),
    )
    course = known.lookup("treatment_courses", clean["course_id"], ["patient_id", "start_date"])
    other = course["found"].to_numpy() & (
        pd.to_numeric(course["patient_id"]).to_numpy() != clean["patient_id"].to_numpy(dtype=float)
    )
    p.add(other, "course_id", values_at(clean["course_id"], "{v} belongs to another patient"))
    scored = score_items(clean["instrument"], clean["items"], p)
    index = _index_dates(clean["course_id"], known).fillna(course["start_date"])
    day = (clean["assessed_on"] - index).dt.days.astype("Int64")
    time_point = pd.Series([None] * len(clean), dtype=object)
    for point in schedule.time_points:
        inside = day.between(point.start, point.end).fillna(False).to_numpy(dtype=bool)
        time_point[inside] = point.name
    return clean.assign(
        instrument=_upper(clean["instrument"]),
        score=scored["score"],
        raw_score=scored["raw_score"],
        scorable=scored["scorable"],
        score_only=False,
        flags=scored["flags"],
        day=day,
        time_point=time_point,
    )


def _upper(series: pd.Series) -> pd.Series:
    """Upper case, computed once per distinct value."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:-1] = [str(u).upper() for u in uniques]
    return pd.Series(values[codes], dtype=object)


def _index_dates(course_ids: pd.Series, known: Known) -> pd.Series:
    """Each course's first injection: sessions of this batch, then of the database."""
    from sqlalchemy import func

    from prolo.registry.models import InjectionSession as IS

    ids: list[np.ndarray[Any, Any]] = []
    days: list[np.ndarray[Any, Any]] = []
    here = known.batch.get("injection_sessions")
    if here is not None and len(here):
        firsts = here.groupby("course_id")["session_date"].min()
        ids.append(firsts.index.to_numpy(dtype=float))
        days.append(firsts.to_numpy(dtype="datetime64[ns]"))
    wanted = pd.to_numeric(course_ids).to_numpy(dtype=float, na_value=np.nan)
    distinct = pd.unique(wanted[~np.isnan(wanted)])
    outside = distinct[~np.isin(distinct, ids[0])] if ids else distinct
    for start in range(0, len(outside), IN_CHUNK):
        chunk = [int(i) for i in outside[start : start + IN_CHUNK]]
        rows = known.connection.execute(
            select(IS.course_id, func.min(IS.session_date))
            .where(one_of(known.connection, IS.course_id, chunk), IS.retired_at.is_(None))
            .group_by(IS.course_id)
        ).all()
        if rows:
            stored = pd.DataFrame(rows, columns=["course_id", "first"])
            ids.append(stored["course_id"].to_numpy(dtype=float))
            days.append(pd.to_datetime(stored["first"]).to_numpy(dtype="datetime64[ns]"))
    if not ids:
        return pd.Series(np.full(len(course_ids), np.datetime64("NaT"), dtype="datetime64[ns]"))
    where = pd.Index(np.concatenate(ids)).get_indexer(pd.Index(wanted))
    first = pd.api.extensions.take(np.concatenate(days), where, allow_fill=True)
    return pd.Series(first, index=course_ids.index)

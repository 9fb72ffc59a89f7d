"""The registry's business rules (``registry/rules.py``) over whole columns.

Each function mirrors one rule of the API and says which; the test
``tests/interop/test_same_rules.py`` feeds the same corrupted rows through both paths and
requires identical accept/reject decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from prolo.interop.known import Known, Vocabularies
from prolo.interop.problems import Problems, values_at
from prolo.interop.tables import TABLES, TableSpec
from prolo.registry import rules as api_rules
from prolo.registry.entities import ENTITIES

Rule = Callable[[pd.DataFrame, Problems, Known, Vocabularies], None]


def _label(table: str) -> str:
    return TABLES[table].entity.replace("_", " ")


def today() -> pd.Timestamp:
    return pd.Timestamp(api_rules.today())


def generic(
    spec: TableSpec, clean: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies
) -> None:
    """References exist and are active; codes are in their vocabulary; no future dates;
    an end is not before its start (``rules._check_references/_vocabularies/_dates``)."""
    for field, target in spec.references.items():
        ids = clean[field]
        info = known.lookup(target, ids)
        given = ids.notna().to_numpy()
        label = _label(target)
        p.add(given & ~info["found"].to_numpy(), field, values_at(ids, f"no {label} with id {{v}}"))
        p.add(
            given & info["retired"].to_numpy(), field, values_at(ids, f"{label} {{v}} is retired")
        )
    for field, name in spec.vocabulary_fields.items():
        codes = clean[field]
        bad = codes.notna().to_numpy() & ~codes.isin(vocab.codes.get(name, set())).to_numpy()
        allowed = vocab.allowed(name)
        p.add(bad, field, values_at(codes, f"{{v!r}} is not in the vocabulary {name} ({allowed})"))
    now = today()
    for column in clean.columns:
        if pd.api.types.is_datetime64_any_dtype(clean[column]):
            p.add(
                (clean[column] > now).to_numpy(),
                column,
                values_at(clean[column], "{v} is in the future"),
            )
    for start, end in (("start_date", "end_date"), ("onset_date", "resolution_date")):
        if start in clean.columns and end in clean.columns:
            before = (clean[end] < clean[start]).to_numpy()
            p.add(
                before,
                end,
                lambda pos, e=end, s=start: [  # type: ignore[misc]
                    f"{clean[e].iloc[i].date()} is before {s} {clean[s].iloc[i].date()}"
                    for i in pos
                ],
            )


def _training_record(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
    other = c["organization"].eq("other").to_numpy() & ~_truthy(c["organization_other"])
    p.add(other, "organization_other", "name the organization when it is 'other'")


def _patient(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
    p.add(
        (c["consent_date"] < c["birth_date"]).to_numpy(), "consent_date", "is before the birth date"
    )
    given = c["consent_status"].eq("given").to_numpy() & c["consent_date"].isna().to_numpy()
    p.add(given, "consent_date", "required when consent_status is 'given'")


def _condition(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
    patient = known.lookup("patients", c["patient_id"], ["birth_date"])
    early = (c["onset_date"] < patient["birth_date"]).to_numpy()
    p.add(early, "onset_date", "is before the patient's birth date")


def _belongs(c: pd.DataFrame, field: str, table: str, p: Problems, known: Known) -> pd.DataFrame:
    info = known.lookup(table, c[field], ["patient_id"])
    other = info["found"].to_numpy() & (
        pd.to_numeric(info["patient_id"]).to_numpy() != c["patient_id"].to_numpy(dtype=float)
    )
    p.add(other, field, values_at(c[field], "{v} belongs to another patient"))
    return info


def _prior_treatment(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
    _belongs(c, "condition_id", "conditions", p, known)


def _works_at(
    c: pd.DataFrame, practitioner: pd.Series, site: pd.Series, p: Problems, known: Known
) -> None:
    """The practitioner works (an active link) at the patient's site."""
    links = _links(known)
    pair = pd.MultiIndex.from_arrays(
        [pd.to_numeric(practitioner).astype("float"), pd.to_numeric(site).astype("float")]
    )
    site_known = site.notna().to_numpy() & practitioner.notna().to_numpy()
    missing = site_known & ~pair.isin(links)
    p.add(
        missing,
        "practitioner_id",
        lambda pos: [
            f"practitioner {int(practitioner.iloc[i])} does not work at the patient's site "
            f"{int(site.iloc[i])}"
            for i in pos
        ],
    )


def _links(known: Known) -> pd.MultiIndex:
    """Active practitioner–site links of the batch and the database (few: read them all)."""
    if "_links" not in known.batch:
        from sqlalchemy import select

        from prolo.registry.models import PractitionerSite as PS

        rows = known.connection.execute(
            select(PS.practitioner_id, PS.site_id).where(PS.retired_at.is_(None))
        ).all()
        frame = pd.DataFrame(rows, columns=["practitioner_id", "site_id"])
        here = known.batch.get("practitioner_sites")
        if here is not None and len(here):
            added = here[["practitioner_id", "site_id"]].astype(float)
            # An empty frame in a concat is deprecated as a dtype source: skip it.
            frame = added if frame.empty else pd.concat([frame.astype(float), added])
        known.batch["_links"] = frame.astype(float)
    frame = known.batch["_links"]
    return pd.MultiIndex.from_arrays([frame["practitioner_id"], frame["site_id"]])


def _course(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
    _belongs(c, "condition_id", "conditions", p, known)
    patient = known.lookup("patients", c["patient_id"], ["site_id"])
    _works_at(c, c["practitioner_id"], patient["site_id"], p, known)
    stopped = c["status"].eq("stopped").to_numpy() & ~_truthy(c["stop_reason"])
    p.add(stopped, "stop_reason", "required when a course is stopped")
    condition = known.lookup("conditions", c["condition_id"], ["onset_date"])
    early = (c["start_date"] < condition["onset_date"]).to_numpy()
    p.add(early, "start_date", "is before the condition's onset")


def _session(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
    course = known.lookup(
        "treatment_courses", c["course_id"], ["start_date", "end_date", "patient_id"]
    )
    start, end = course["start_date"], course["end_date"]
    day = c["session_date"]
    p.add(
        (day < start).to_numpy(),
        "session_date",
        lambda pos: [
            f"{day.iloc[i].date()} is before its course starts ({start.iloc[i].date()})"
            for i in pos
        ],
    )
    p.add(
        (day > end).to_numpy(),
        "session_date",
        lambda pos: [
            f"{day.iloc[i].date()} is after its course ended ({end.iloc[i].date()})" for i in pos
        ],
    )
    patient = known.lookup("patients", course["patient_id"], ["site_id"])
    _works_at(c, c["practitioner_id"], patient["site_id"].where(course["found"]), p, known)
    _concentration(c, p, vocab)
    _target_codes(c, p, vocab)


def _concentration(c: pd.DataFrame, p: Problems, vocab: Vocabularies) -> None:
    conc = c["concentration_percent"].to_numpy(dtype=float)
    for agent in c["agent"].dropna().unique():
        attrs = vocab.attributes.get(("agent", agent), {})
        rows = c["agent"].eq(agent).to_numpy()
        if attrs.get("concentration_required"):
            p.add(rows & np.isnan(conc), "concentration_percent", f"required for {agent}")
        low, high = attrs.get("concentration_min"), attrs.get("concentration_max")
        if low is not None and high is not None:
            with np.errstate(invalid="ignore"):
                out = rows & ~np.isnan(conc) & ((conc < low) | (conc > high))
            p.add(
                out,
                "concentration_percent",
                lambda pos, lo=low, hi=high, a=agent: [  # type: ignore[misc]
                    f"{conc[i]}% is not plausible for {a} ({lo}–{hi}%)" for i in pos
                ],
            )


def _target_codes(c: pd.DataFrame, p: Problems, vocab: Vocabularies) -> None:
    import json

    verdict: dict[str, bool] = {}
    for text in c["targets"].dropna().unique():
        entries = json.loads(text)
        verdict[text] = all(
            t["target"] in vocab.codes.get("target", set())
            and (t.get("side") is None or t["side"] in vocab.codes.get("side", set()))
            for t in entries
        )
    refused = [text for text, ok in verdict.items() if not ok]
    bad = c["targets"].isin(refused).to_numpy(dtype=bool)
    p.add(bad, "targets", "a target or side is not in its vocabulary (target, side)")


def _course_event(date_field: str) -> Rule:
    def rule(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
        course = known.lookup("treatment_courses", c["course_id"], ["start_date"])
        early = (c[date_field] < course["start_date"]).to_numpy()
        p.add(early, date_field, "is before the course starts")
        if "session_id" in c.columns:
            session = known.lookup("injection_sessions", c["session_id"], ["course_id"])
            other = session["found"].to_numpy() & (
                pd.to_numeric(session["course_id"]).to_numpy()
                != c["course_id"].to_numpy(dtype=float)
            )
            p.add(other & course["found"].to_numpy(), "session_id", "belongs to another course")

    return rule


def _course_of_patient(c: pd.DataFrame, p: Problems, known: Known, vocab: Vocabularies) -> None:
    _belongs(c, "course_id", "treatment_courses", p, known)


def _truthy(series: pd.Series) -> np.ndarray[Any, Any]:
    return series.map(lambda v: bool(v)).to_numpy(dtype=bool)


SPECIFIC: dict[str, Rule] = {
    "training_records": _training_record,
    "patients": _patient,
    "conditions": _condition,
    "prior_treatments": _prior_treatment,
    "treatment_courses": _course,
    "injection_sessions": _session,
    "co_interventions": _course_event("start_date"),
    "adverse_events": _course_event("onset_date"),
    "recurrences": _course_event("event_date"),
    "work_statuses": _course_of_patient,
    "objective_measures": _course_of_patient,
}

assert set(SPECIFIC) == {ENTITIES[name].model.__tablename__ for name in api_rules.SPECIFIC}, (
    "every rule of the API has its vectorised twin"
)

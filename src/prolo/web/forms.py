"""HTML forms driven by the API's own schemas, so that a form rejects exactly what the API
rejects, with the same message beside the field.

A form is described from a pydantic schema (``PatientCreate``...): each field becomes an input
of the right kind; the posted strings go back through the same schema (``model_validate``) and
then through the same service, whose rule violations name the same fields. Written here rather
than taken from a form library because the schemas already hold every rule and a library
(WTForms...) would restate them.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from prolo.errors import DomainError
from prolo.web.problems import field_path

# How many injection targets the session form offers (rows left empty are ignored).
TARGET_ROWS = 4

LABELS = {
    "site_id": "Site",
    "external_id": "External id (MRN)",
    "icd10_code": "ICD-10-CM code",
    "patient_id": "Patient",
    "condition_id": "Condition",
    "course_id": "Treatment course",
    "session_id": "Injection session",
    "practitioner_id": "Practitioner",
    "concentration_percent": "Concentration (%)",
    "total_volume_ml": "Total volume (ml)",
    "adherence_percent": "Adherence (%)",
    "grade": "Grade (1 mild – 5 death)",
    "serious": "Serious adverse event",
    "email": "E-mail",
}


@dataclass
class Option:
    value: str
    label: str


@dataclass
class FormField:
    name: str
    label: str
    # text | textarea | date | integer | number | checkbox | select | email | tel | targets
    kind: str
    required: bool
    value: Any = None
    options: list[Option] | None = None
    hidden: bool = False


@dataclass
class Form:
    fields: list[FormField]
    errors: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)

    def set_errors(self, problems: list[dict[str, str]], also: tuple[str, ...] = ()) -> None:
        """Place each error beside its field (``targets[0].levels`` beside ``targets``);
        ``also`` names fields the page draws itself (a correction's reason)."""
        names = {f.name for f in self.fields if not f.hidden} | set(also)
        for problem in problems:
            path, reason = problem["field"], problem["reason"]
            top = re.split(r"[.\[]", path, maxsplit=1)[0]
            if top in names:
                text = reason if path == top else f"{path}: {reason}"
                previous = self.errors.get(top)
                self.errors[top] = f"{previous}; {text}" if previous else text
            self.summary.append(f"{path}: {reason}")


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None`` and whether None is allowed."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), len(args) < len(typing.get_args(annotation))
    return annotation, False


def _kind(name: str, info: FieldInfo) -> str:
    inner, _ = _unwrap(info.annotation)
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    if name == "targets":
        return "targets"
    if inner is bool:
        return "checkbox"
    if inner is int:
        return "integer"
    if inner is float:
        return "number"
    if inner is dt.date:
        return "date"
    if name == "email":
        return "email"
    if name == "phone":
        return "tel"
    if name in ("notes", "description", "finding", "stop_reason"):
        return "textarea"
    return "text"


def label_for(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def describe(
    schema: type[BaseModel],
    *,
    values: Mapping[str, Any] | None = None,
    options: Mapping[str, list[Option]] | None = None,
    hidden: Mapping[str, Any] | None = None,
    exclude: frozenset[str] = frozenset({"reason"}),
) -> Form:
    """The form of ``schema``: fields in the schema's order, prefilled with ``values``;
    ``hidden`` fields are fixed by the page (the patient of a chart...)."""
    values, options, hidden = values or {}, options or {}, hidden or {}
    fields = []
    for name, info in schema.model_fields.items():
        if name in exclude:
            continue
        kind = _kind(name, info)
        value = hidden.get(name, values.get(name, info.default if _has_default(info) else None))
        choice = options.get(name)
        fields.append(
            FormField(
                name=name,
                label=label_for(name),
                kind="select" if choice is not None and kind != "targets" else kind,
                required=info.is_required(),
                value=_shown(value),
                options=choice,
                hidden=name in hidden,
            )
        )
    return Form(fields)


def _has_default(info: FieldInfo) -> bool:
    return not info.is_required() and info.default is not None and not callable(info.default)


def _shown(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def read_targets(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The injection targets of the session form: one row per target, levels comma-separated."""
    rows = []
    for i in range(TARGET_ROWS):
        target = str(form.get(f"targets-{i}-target") or "").strip()
        levels = str(form.get(f"targets-{i}-levels") or "")
        side = str(form.get(f"targets-{i}-side") or "").strip()
        level_list = [p for p in re.split(r"[\s,;]+", levels.strip().upper()) if p]
        if not (target or level_list or side):
            continue
        row: dict[str, Any] = {"target": target, "levels": level_list}
        if side:
            row["side"] = side
        rows.append(row)
    return rows


def submitted(schema: type[BaseModel], form: Mapping[str, Any]) -> dict[str, Any]:
    """The posted values of ``schema``'s fields as the API would receive them in JSON: blank
    fields are left out, a checkbox is true when ticked."""
    data: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        kind = _kind(name, info)
        if kind == "targets":
            data[name] = read_targets(form)
        elif kind == "checkbox":
            data[name] = form.get(name) in ("true", "on", "1")
        else:
            raw = form.get(name)
            if isinstance(raw, str) and raw.strip() != "":
                data[name] = raw
    return data


def changes(
    schema: type[BaseModel], form: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """A correction: the fields whose posted value differs from the record's, a blanked optional
    field meaning "clear it"."""
    posted = submitted(schema, form)
    data: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        if name == "reason":
            continue
        before = current.get(name)
        if name in posted:
            if _same(posted[name], before):
                continue
            data[name] = posted[name]
        elif before is not None and _kind(name, info) not in ("checkbox", "targets"):
            data[name] = None
    if isinstance(form.get("reason"), str):
        data["reason"] = form.get("reason")
    return data


def _same(posted: Any, before: Any) -> bool:
    if isinstance(before, bool) or isinstance(posted, bool):
        return bool(posted) == bool(before)
    if isinstance(before, list):
        return bool(_plain_targets(posted) == _plain_targets(before))
    if isinstance(before, float | int) and not isinstance(before, bool):
        try:
            return float(posted) == float(before)
        except (TypeError, ValueError):
            return False
    return str(posted) == str(_shown(before))


def _plain_targets(rows: Any) -> list[dict[str, Any]]:
    return [
        {
            "target": row.get("target"),
            "levels": list(row.get("levels") or []),
            **({"side": row["side"]} if row.get("side") else {}),
        }
        for row in rows or []
    ]


@dataclass
class Checked:
    """The outcome of a posted form: the validated schema, or the errors to show."""

    data: BaseModel | None
    problems: list[dict[str, str]]


def validate(schema: type[BaseModel], data: dict[str, Any]) -> Checked:
    """Validate as the API does; errors named as the API's problem+json names them."""
    try:
        return Checked(schema.model_validate(data), [])
    except ValidationError as error:
        return Checked(
            None,
            [
                {"field": field_path(tuple(e.get("loc", ()))), "reason": e.get("msg", "invalid")}
                for e in error.errors()
            ],
        )


def domain_problems(error: DomainError) -> list[dict[str, str]]:
    problems = [e.as_dict() for e in error.errors]
    return problems or [{"field": "body", "reason": error.title}]

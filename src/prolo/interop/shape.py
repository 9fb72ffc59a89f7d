"""Shape checks over whole columns, derived from the API's own ``XCreate`` pydantic schemas.

Types, required fields, ranges, lengths and patterns are read from each schema's JSON schema,
so the bulk path checks exactly what the API checks, and a schema change reaches both. What a
JSON schema cannot say is added here by name: the ICD-10-CM format (``schemas.ICD10_CM``), e-mail
addresses (the API's own ``EmailStr`` validator, once per distinct address) and injection
targets (the API's ``InjectionTarget`` model, once per distinct list).
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, EmailStr, TypeAdapter, ValidationError

from prolo.interop.problems import Problems, values_at
from prolo.registry import schemas as s

TRUE = {"true", "1", "yes", "t", "y", "on"}
FALSE = {"false", "0", "no", "f", "n", "off"}


class ColumnError(ValueError):
    """A file whose columns do not fit the table (unknown or missing required columns)."""


@lru_cache(maxsize=64)
def fields_of(schema: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Field name → {type, format, nullable, required, constraints} from the JSON schema."""
    js = schema.model_json_schema()
    required = set(js.get("required", []))
    out: dict[str, dict[str, Any]] = {}
    for name, prop in js["properties"].items():
        options = prop.get("anyOf", [prop])
        nullable = any(o.get("type") == "null" for o in options)
        main: dict[str, Any] = next((o for o in options if o.get("type") != "null"), {})
        out[name] = {
            **main,
            "nullable": nullable,
            "required": name in required,
            "default": prop.get("default"),
        }
    return out


def check_columns(table: str, frame: pd.DataFrame, schema: type[BaseModel]) -> None:
    fields = fields_of(schema)
    unknown = [c for c in frame.columns if c not in fields and c != "id"]
    if unknown:
        raise ColumnError(f"{table}: unknown column(s) {', '.join(map(str, unknown))}")
    missing = [n for n, f in fields.items() if f["required"] and n not in frame.columns]
    if missing:
        raise ColumnError(f"{table}: missing required column(s) {', '.join(missing)}")


def check(frame: pd.DataFrame, schema: type[BaseModel], problems: Problems) -> pd.DataFrame:
    """Typed, normalised columns of ``frame`` (strings stripped, dates as datetime64, numbers
    as floats or nullable ints); every row that the schema would refuse is added to problems."""
    out: dict[str, Any] = {}
    for name, spec in fields_of(schema).items():
        raw = frame[name] if name in frame.columns else pd.Series([None] * len(frame))
        raw = raw.reset_index(drop=True)
        absent = raw.isna().to_numpy()
        if spec["default"] is not None and absent.any():  # an empty cell: the default
            raw = raw.astype(object).where(~absent, spec["default"])
            absent = raw.isna().to_numpy()
        if spec["required"] and not spec["nullable"]:
            problems.add(absent, name, "Field required")
        elif not spec["nullable"]:
            problems.add(absent, name, "Input should not be null")
        out[name] = _typed(name, raw, absent, spec, problems)
    return pd.DataFrame(out)


def _typed(
    name: str, raw: pd.Series, absent: np.ndarray[Any, Any], spec: dict[str, Any], p: Problems
) -> pd.Series:
    kind = spec.get("type")
    if name == "targets":
        return _targets(raw, absent, p)
    if kind in ("integer", "number"):
        return _number(name, raw, absent, spec, p, whole=kind == "integer")
    if kind == "boolean":
        return _boolean(name, raw, absent, p)
    if spec.get("format") == "date":
        return _date(name, raw, absent, p)
    return _string(name, raw, absent, spec, p)


def _number(
    name: str,
    raw: pd.Series,
    absent: np.ndarray[Any, Any],
    spec: dict[str, Any],
    p: Problems,
    *,
    whole: bool,
) -> pd.Series:
    if raw.dtype == object:
        is_bool = raw.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    else:
        is_bool = np.full(len(raw), pd.api.types.is_bool_dtype(raw))
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = pd.Series(raw.to_numpy(dtype="float64", na_value=np.nan))  # numbers already
    else:
        values = pd.to_numeric(raw.where(~is_bool), errors="coerce").astype("float64")
    number = values.to_numpy()
    bad = (~absent & np.isnan(number)) | (~absent & is_bool)
    p.add(
        bad,
        name,
        values_at(raw, "{v!s} is not a number" if not whole else "{v} is not a whole number"),
    )
    if whole:
        fraction = ~np.isnan(number) & (np.mod(np.nan_to_num(number), 1) != 0)
        p.add(fraction, name, values_at(raw, "{v} is not a whole number"))
    with np.errstate(invalid="ignore"):
        for key, test, word in (
            ("minimum", np.less, "greater than or equal to"),
            ("exclusiveMinimum", np.less_equal, "greater than"),
            ("maximum", np.greater, "less than or equal to"),
        ):
            if key in spec:
                p.add(test(number, spec[key]), name, f"Input should be {word} {spec[key]}")
    return whole_numbers(values) if whole else values


def whole_numbers(values: pd.Series) -> pd.Series:
    """Floats rounded to a nullable Int64 column (built directly: ``astype("Int64")`` checks
    every value in Python-level code and is ten times slower)."""
    number = values.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(number)
    with np.errstate(invalid="ignore"):
        fits = bool(np.all(missing | (np.abs(number) < 2.0**63)))
    if not fits:  # infinities or beyond int64: pandas' own conversion says what is wrong
        return values.round().astype("Int64")
    integers = np.where(missing, 0.0, np.round(number)).astype(np.int64)
    return pd.Series(pd.arrays.IntegerArray(integers, missing), index=values.index)


def _boolean(name: str, raw: pd.Series, absent: np.ndarray[Any, Any], p: Problems) -> pd.Series:
    def parse(value: Any) -> bool | None:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        return True if text in TRUE else False if text in FALSE else None

    parsed = raw.map(lambda v: None if v is None or v is pd.NA or v != v else parse(v))
    p.add(~absent & parsed.isna().to_numpy(), name, values_at(raw, "{v} is not true or false"))
    return parsed.astype("boolean")


def _factorized(raw: pd.Series) -> tuple[np.ndarray[Any, Any], pd.Series]:
    """Row codes (−1 for null) and the distinct values: rules run once per distinct value."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    return codes, pd.Series(np.asarray(uniques, dtype=object))


def _per_row(codes: np.ndarray[Any, Any], flags: Any) -> np.ndarray[Any, Any]:
    flags = np.append(np.asarray(flags, dtype=bool), False)  # code −1 → the appended False
    return np.asarray(flags[codes])


def _date(name: str, raw: pd.Series, absent: np.ndarray[Any, Any], p: Problems) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize(None) if raw.dt.tz is not None else raw
        return parsed.astype("datetime64[ns]").dt.normalize()
    codes, uniques = _factorized(raw)
    objects = uniques.map(lambda v: isinstance(v, dt.date)).to_numpy(dtype=bool)
    text = uniques.map(lambda v: v.strip() if isinstance(v, str) else str(v))
    parsed_u = pd.to_datetime(text.where(~objects), format="%Y-%m-%d", errors="coerce")
    if objects.any():  # date, datetime and Timestamp objects: a date, or a datetime at midnight
        as_dates = uniques[objects].map(_midnight)
        parsed_u[objects] = pd.to_datetime(as_dates, errors="coerce")
    bad_u = parsed_u.isna().to_numpy()
    far_u = bad_u & text.map(_far_future).to_numpy(dtype=bool)
    p.add(_per_row(codes, far_u), name, values_at(raw, "{v} is in the future"))
    p.add(_per_row(codes, bad_u & ~far_u), name, values_at(raw, "{v} is not a date (YYYY-MM-DD)"))
    values = np.append(parsed_u.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
    return pd.Series(values[codes]).dt.normalize()


def _midnight(value: dt.date) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else None
    return value


def _far_future(value: Any) -> bool:
    """A real date beyond what datetime64 holds (after 2262): certainly in the future."""
    try:
        return dt.date.fromisoformat(str(value).strip()).year > 2200
    except ValueError:
        return False


def _string(
    name: str, raw: pd.Series, absent: np.ndarray[Any, Any], spec: dict[str, Any], p: Problems
) -> pd.Series:
    codes, uniques = _factorized(raw)
    not_text = ~uniques.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    p.add(_per_row(codes, not_text), name, "Input should be a valid string")
    text = uniques.map(lambda v: v if isinstance(v, str) else str(v)).str.strip()
    if name == "icd10_code":
        text = text.str.upper()
        bad = ~text.str.fullmatch(s.ICD10_CM.pattern).to_numpy(dtype=bool)
        p.add(
            _per_row(codes, bad),
            name,
            values_at(raw, "{v!r} is not an ICD-10-CM code (e.g. M54.50, S33.5)"),
        )
    length = text.str.len().to_numpy(dtype=float)
    if "minLength" in spec:
        p.add(
            _per_row(codes, length < spec["minLength"]),
            name,
            f"at least {spec['minLength']} characters",
        )
    if "maxLength" in spec:
        p.add(
            _per_row(codes, length > spec["maxLength"]),
            name,
            f"at most {spec['maxLength']} characters",
        )
    if "pattern" in spec:
        matches = text.str.contains(spec["pattern"], regex=True).to_numpy(dtype=bool)
        p.add(_per_row(codes, ~matches), name, f"should match {spec['pattern']}")
    if spec.get("format") == "email":
        text = _emails(text)
        p.add(_per_row(codes, text.isna().to_numpy()), name, "not a valid e-mail address")
    values = np.empty(len(text) + 1, dtype=object)
    values[:-1] = text.to_numpy(dtype=object)  # the last slot (code −1) stays None
    return pd.Series(values[codes], dtype=object)


def _emails(text: pd.Series) -> pd.Series:
    """Each distinct address through the API's own ``EmailStr`` (normalised, or None)."""
    adapter: TypeAdapter[str] = TypeAdapter(EmailStr)

    def one(value: str) -> str | None:
        try:
            return adapter.validate_python(value)
        except ValidationError:
            return None

    return text.map(one)


def _targets(raw: pd.Series, absent: np.ndarray[Any, Any], p: Problems) -> pd.Series:
    """Validate each distinct target list once with the API's model; store it normalised."""
    adapter = TypeAdapter(list[s.InjectionTarget])
    normal: dict[str, str | None] = {}

    def key(value: Any) -> str | None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        return value if isinstance(value, str) else json.dumps(value, default=_plain)

    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        codes, uniques = _factorized(raw)  # texts already: each is its own key
        keys = uniques
    else:
        keys = raw.map(key)
    for text in keys.dropna().unique():
        try:
            parsed = adapter.validate_python(json.loads(text))
            normal[text] = json.dumps([t.model_dump() for t in parsed]) if parsed else None
        except (ValidationError, ValueError, TypeError):
            normal[text] = None
    if keys is uniques:
        values = np.empty(len(uniques) + 1, dtype=object)  # the last slot (code −1) stays None
        values[:-1] = [normal.get(u) for u in uniques]
        mapped = pd.Series(values[codes], dtype=object)
    else:
        mapped = keys.map(lambda v: None if v is None else normal.get(v))
    p.add(
        ~absent & mapped.isna().to_numpy(),
        "targets",
        "a non-empty list of targets, each {target, levels, side} with valid levels",
    )
    return mapped


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))

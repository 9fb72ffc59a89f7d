"""Item answers checked and scored over whole columns, by the instruments' published rules.

The rules and item definitions come from ``prolo.instruments`` (the same data the scalar
scorer uses); ``tests/interop/test_items.py`` requires this scorer to equal
``instruments.scoring.score`` exactly on random answers, missing codes included. Answers that
are not a flat list of numbers, booleans, ``null`` and codes (two boxes ticked in an ODI
section, say) go through the scalar scorer itself.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from prolo.instruments import definitions
from prolo.instruments.scoring import CODES, AnswerError
from prolo.instruments.scoring import score as scalar_score
from prolo.interop.problems import Problems

TOKEN = r'(?:-?(?:0|[1-9][0-9]{0,5})|"(?:not_asked|missing|refused)"|null|true|false)'
FLAT = rf"^\[\s*{TOKEN}(?:\s*,\s*{TOKEN})*\s*\]$"
FLAG_TEXT = {(): "[]"}


def score_items(instrument: pd.Series, items: pd.Series, p: Problems) -> pd.DataFrame:
    """Score, raw score, scorable and flags (JSON text) per row; bad answers go to problems.
    Each distinct (instrument, answers) pair is checked and scored once."""
    key = instrument.fillna("").astype(str) + "\x1f" + items.fillna("").astype(str)
    codes, uniques = pd.factorize(key)
    distinct = pd.Series(uniques).str.split("\x1f", n=1, expand=True)
    distinct.columns = ["instrument", "items"]
    local = Problems(p.table, np.arange(len(distinct)), p.source)
    local.bad |= (distinct["instrument"] == "").to_numpy()  # null: already reported
    scored = _score_distinct(
        distinct["instrument"].replace("", None), distinct["items"].replace("", None), local
    )
    p.add_mapped(local, codes)
    return scored.iloc[codes].reset_index(drop=True)


def _score_distinct(instrument: pd.Series, items: pd.Series, p: Problems) -> pd.DataFrame:
    n = len(items)
    out = pd.DataFrame(
        {
            "score": np.full(n, np.nan),
            "raw_score": np.full(n, np.nan),
            "scorable": np.zeros(n, dtype=bool),
            "flags": np.full(n, "[]", dtype=object),
        }
    )
    catalogue = definitions.catalogue()
    codes = instrument.fillna("").str.upper()
    unknown = instrument.notna().to_numpy() & ~codes.isin(list(catalogue)).to_numpy()
    known_list = ", ".join(sorted(catalogue))
    p.add(
        unknown,
        "instrument",
        lambda pos: [
            f"unknown instrument {instrument.iloc[i]!r}; known: {known_list}" for i in pos
        ],
    )
    text = items.fillna("")
    flat = text.str.match(FLAT).to_numpy(dtype=bool)
    for code in codes[~unknown & instrument.notna().to_numpy()].unique():
        rows = (codes == code).to_numpy() & ~p.bad
        fast = np.flatnonzero(rows & flat)
        if len(fast):
            _score_flat(catalogue[code], fast, text.to_numpy()[fast], out, p)
        for position in np.flatnonzero(rows & ~flat):
            _score_one(code, int(position), text.iloc[position], out, p)
    return out


def _score_one(code: str, position: int, text: str, out: pd.DataFrame, p: Problems) -> None:
    mask = np.zeros(len(out), dtype=bool)
    mask[position] = True
    try:
        answers = json.loads(text)
        result = scalar_score(code, answers)
    except (ValueError, AnswerError) as error:
        reason = str(error) if isinstance(error, AnswerError) else "not a JSON list of answers"
        p.add(mask, "items", reason)
        return
    out.loc[position, "score"] = np.nan if result.score is None else result.score
    out.loc[position, "raw_score"] = np.nan if result.raw is None else result.raw
    out.loc[position, "scorable"] = result.scorable
    out.loc[position, "flags"] = json.dumps(list(result.flags))


def _score_flat(
    instrument: definitions.Instrument,
    positions: np.ndarray[Any, Any],
    texts: np.ndarray[Any, Any],
    out: pd.DataFrame,
    p: Problems,
) -> None:
    k = len(instrument.items)
    tokens = pd.Series(texts).str.strip().str[1:-1].str.split(",", expand=True)
    tokens = tokens.apply(lambda column: column.str.strip())
    counts = tokens.notna().sum(axis=1).to_numpy()
    wrong = counts != k
    _reject(
        p,
        positions,
        wrong,
        lambda i: f"{instrument.code} item 0 (answers): expected {k} answers, got {counts[i]}",
    )
    if tokens.shape[1] < k:
        return
    tok = tokens.iloc[:, :k].fillna("null").to_numpy(dtype=str)
    is_code = np.isin(tok, [f'"{c}"' for c in CODES]) | (tok == "null")
    is_true, is_false = tok == "true", tok == "false"
    is_bool = is_true | is_false
    number = np.where(is_code | is_bool, "0", tok).astype(np.int64)
    bad = np.zeros(tok.shape, dtype=bool)
    for j, item in enumerate(instrument.items):
        if item.kind == "boolean":
            bad[:, j] = ~(is_code[:, j] | is_bool[:, j])
        elif item.kind == "integer":
            assert item.min is not None and item.max is not None
            out_of_range = (number[:, j] < item.min) | (number[:, j] > item.max)
            bad[:, j] = is_bool[:, j] | (~is_code[:, j] & out_of_range)
        else:
            allowed = [o.value for o in item.options]
            bad[:, j] = is_bool[:, j] | (~is_code[:, j] & ~np.isin(number[:, j], allowed))
    first_bad = np.where(bad.any(axis=1), bad.argmax(axis=1), -1)
    invalid = (first_bad >= 0) & ~wrong
    _reject(
        p,
        positions,
        invalid,
        lambda i: _answer_reason(instrument, str(tok[i, first_bad[i]]), int(first_bad[i])),
    )
    ok = ~wrong & ~invalid
    _apply_rule(instrument, number, is_code, is_true, ok, positions, out)


def _answer_reason(instrument: definitions.Instrument, token: str, j: int) -> str:
    item = instrument.items[j]
    return f"{instrument.code} item {j + 1} ({item.id}): {token} is not {item.allowed()}"


def _reject(
    p: Problems, positions: np.ndarray[Any, Any], which: np.ndarray[Any, Any], reason: Any
) -> None:
    if not which.any():
        return
    mask = np.zeros(len(p.bad), dtype=bool)
    mask[positions[which]] = True
    local = {int(positions[i]): i for i in np.flatnonzero(which)}
    p.add(mask, "items", lambda pos: [reason(local[int(q)]) for q in pos])


def _apply_rule(
    instrument: definitions.Instrument,
    number: np.ndarray[Any, Any],
    is_code: np.ndarray[Any, Any],
    is_true: np.ndarray[Any, Any],
    ok: np.ndarray[Any, Any],
    positions: np.ndarray[Any, Any],
    out: pd.DataFrame,
) -> None:
    rule, scoring = instrument.scoring.rule, instrument.scoring
    k = number.shape[1]
    answered = (~is_code).sum(axis=1)
    missing = k - answered
    total = np.where(is_code, 0, number).sum(axis=1).astype(float)
    flags = np.full(len(ok), "[]", dtype=object)
    if rule == "single":
        scorable = answered == 1
        score = raw = np.where(scorable, number[:, 0].astype(float), np.nan)
    elif rule == "count_true":
        scorable = missing <= scoring.max_missing
        raw = score = np.where(scorable, is_true.sum(axis=1).astype(float), np.nan)
        flags[scorable & (missing > 0)] = json.dumps(["missing_items_counted_as_no"])
    else:
        item_max = scoring.item_max
        assert item_max is not None
        scorable = (missing <= scoring.max_missing) & (answered > 0)
        safe = np.maximum(answered, 1)
        if rule == "percent_of_max":
            raw = np.where(scorable, total, np.nan)
            score = np.where(scorable, total / (item_max * safe) * 100, np.nan)
            flags[scorable & (missing > 0)] = json.dumps(["missing_items"])
        else:
            raw = np.where(scorable, total * k / safe, np.nan)
            score = raw * (scoring.percent_factor or 1.0)
            flags[scorable & (missing > 0)] = json.dumps(["missing_items_imputed"])
    target = positions[ok]
    out.loc[target, "score"] = score[ok]
    out.loc[target, "raw_score"] = raw[ok]
    out.loc[target, "scorable"] = scorable[ok]
    out.loc[target, "flags"] = flags[ok]

"""Item answers checked and scored over whole columns, by the instruments' published rules.

The rules and item definitions come from ``prolo.instruments`` (the same data the scalar
scorer uses); ``tests/interop/test_items.py`` requires this scorer to equal
``instruments.scoring.score`` exactly on random answers, missing codes included. Answers that
are not a flat list of numbers, booleans, ``null`` and codes (two boxes ticked in an ODI
section, say) go through the scalar scorer itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
    codes, distinct_instrument, distinct_items = _distinct_pairs(instrument, items)
    local = Problems(p.table, np.arange(len(distinct_items)), p.source)
    local.bad |= distinct_instrument.isna().to_numpy()  # null: already reported
    scored = _score_distinct(distinct_instrument, distinct_items, local)
    p.add_mapped(local, codes)
    rows: pd.DataFrame = scored.iloc[codes].reset_index(drop=True)
    return rows


def _distinct_pairs(instrument: pd.Series, items: pd.Series) -> tuple[Any, pd.Series, pd.Series]:
    """Row codes into the distinct (instrument, items) pairs, in order of first appearance;
    an empty text counts as null."""
    instrument_codes, instruments = pd.factorize(instrument, use_na_sentinel=True)
    item_codes, answers = pd.factorize(items, use_na_sentinel=True)
    width = len(answers) + 1
    pair = (instrument_codes.astype(np.int64) + 1) * width + (item_codes.astype(np.int64) + 1)
    codes, pairs = pd.factorize(pair)
    return (
        codes,
        _texts(instruments, pairs // width - 1),
        _texts(answers, pairs % width - 1),
    )


def _texts(uniques: Any, codes: np.ndarray[Any, Any]) -> pd.Series:
    """Distinct values as text (None for null and for the empty text), picked by ``codes``."""
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:-1] = [None if str(u) == "" else str(u) for u in uniques]
    return pd.Series(values[codes], dtype=object)


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
    flat = is_flat(text.to_numpy(dtype=object))
    for code in codes[~unknown & instrument.notna().to_numpy()].unique():
        rows = (codes == code).to_numpy() & ~p.bad
        fast = np.flatnonzero(rows & flat)
        if len(fast):
            _score_flat(catalogue[code], fast, text.to_numpy()[fast], out, p)
        for position in np.flatnonzero(rows & ~flat):
            _score_one(code, int(position), text.iloc[position], out, p)
    return out


FLAT_PATTERN = re.compile(FLAT)
TOKEN_PATTERN = re.compile(TOKEN)


def is_flat(texts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``FLAT.match`` of each text. For ASCII texts without the regex, by its structure: ``[``,
    then comma-separated parts that are a TOKEN once white space is trimmed, then ``]`` at the
    end or before a final newline (what ``$`` allows); each distinct part is matched once."""
    flat = np.zeros(len(texts), dtype=bool)
    if not len(texts):
        return flat
    array = pa.array(texts, type=pa.string())
    ascii_ = pc.string_is_ascii(array).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(~ascii_):
        flat[i] = FLAT_PATTERN.match(texts[i]) is not None
    plain = array.filter(pa.array(ascii_))
    newline = pc.ends_with(plain, "]\n")
    framed = pc.and_(pc.starts_with(plain, "["), pc.or_(pc.ends_with(plain, "]"), newline))
    body = pc.if_else(
        newline,
        pc.utf8_slice_codeunits(plain, 1, -2),
        pc.utf8_slice_codeunits(plain, 1, -1),
    )
    parts = pc.split_pattern(body, ",")
    encoded = pc.dictionary_encode(pc.ascii_trim(pc.list_flatten(parts), ASCII_SPACE))
    token = np.array(
        [TOKEN_PATTERN.fullmatch(w) is not None for w in encoded.dictionary.to_pylist()],
        dtype=bool,
    )
    valid = token[encoded.indices.to_numpy(zero_copy_only=False)]
    parent = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
    wrong_parts = np.bincount(parent[~valid], minlength=len(plain))
    framed_np = framed.to_numpy(zero_copy_only=False).astype(bool)
    flat[np.flatnonzero(ascii_)] = framed_np & (wrong_parts == 0)
    return flat


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
    counts, tokens = _tokens(texts, k)
    wrong = counts != k
    _reject(
        p,
        positions,
        wrong,
        lambda i: f"{instrument.code} item 0 (answers): expected {k} answers, got {counts[i]}",
    )
    if wrong.all():
        return
    positions = positions[~wrong]
    words, at = tokens  # the distinct tokens, and the rows × items matrix pointing at them
    is_code_w = np.isin(words, [f'"{c}"' for c in CODES]) | (words == "null")
    is_true_w, is_false_w = words == "true", words == "false"
    not_number = is_code_w | is_true_w | is_false_w
    number_w = np.array(
        [0 if skip else int(w) for w, skip in zip(words, not_number, strict=True)],
        dtype=np.int64,
    )
    is_code, is_true, number = is_code_w[at], is_true_w[at], number_w[at]
    is_bool = is_true | is_false_w[at]
    bad = np.zeros(at.shape, dtype=bool)
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
    invalid = first_bad >= 0
    _reject(
        p,
        positions,
        invalid,
        lambda i: _answer_reason(instrument, str(words[at[i, first_bad[i]]]), int(first_bad[i])),
    )
    _apply_rule(instrument, number, is_code, is_true, ~invalid, positions, out)


# What Python's ``str.strip`` (and the ``\\s`` of FLAT) take for white space, in ASCII.
ASCII_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "


def _tokens(
    texts: np.ndarray[Any, Any], k: int
) -> tuple[np.ndarray[Any, Any], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """Answers per text (texts that match FLAT) and, for the texts with exactly ``k``, their
    tokens: the distinct token texts and a (texts × k) matrix of positions into them.
    Python's ``[w.strip() for w in t.strip()[1:-1].split(",")]``, in Arrow."""
    array = pa.array(texts, type=pa.string())
    if not pc.all(pc.string_is_ascii(array)).as_py():
        return _tokens_unicode(texts, k)
    inner = pc.utf8_slice_codeunits(pc.ascii_trim(array, ASCII_SPACE), 1, -1)
    lists = pc.split_pattern(inner, ",")
    counts = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    exact = counts == k
    words = pc.ascii_trim(pc.list_flatten(lists.filter(pa.array(exact))), ASCII_SPACE)
    encoded = pc.dictionary_encode(words)
    distinct = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    at = encoded.indices.to_numpy(zero_copy_only=False).reshape(-1, k)
    return counts, (distinct, at)


def _tokens_unicode(
    texts: np.ndarray[Any, Any], k: int
) -> tuple[np.ndarray[Any, Any], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """``_tokens`` with Python's own notion of white space (texts with non-ASCII spaces)."""
    split = [[w.strip() for w in t.strip()[1:-1].split(",")] for t in texts]
    counts = np.array([len(w) for w in split], dtype=np.int64)
    words = [w for ws in split if len(ws) == k for w in ws]
    codes, distinct = pd.factorize(pd.Series(words, dtype=object))
    return counts, (np.asarray(distinct, dtype=object), codes.reshape(-1, k))


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

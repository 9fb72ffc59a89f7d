"""The vectorised scorer equals the scalar scorer (``instruments.scoring.score``) exactly, and
rejects exactly the answers the scalar scorer refuses — on random answers with missing codes,
nulls, out-of-range values, wrong lengths and two ticked boxes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from prolo.instruments import definitions
from prolo.instruments.scoring import AnswerError, score
from prolo.interop.items import score_items
from prolo.interop.problems import Problems

ODDITIES: list[Any] = ["missing", "refused", "not_asked", None, "maybe", 99, -1, True, 2.5, [1, 3]]


def random_answers(rng: np.random.Generator, code: str) -> list[Any]:
    instrument = definitions.get(code)
    answers: list[Any] = []
    for item in instrument.items:
        if rng.random() < 0.15:
            answers.append(ODDITIES[rng.integers(len(ODDITIES))])
        elif item.kind == "boolean":
            answers.append(bool(rng.integers(2)))
        elif item.kind == "integer":
            assert item.min is not None and item.max is not None
            answers.append(int(rng.integers(item.min, item.max + 1)))
        else:
            answers.append(int(rng.choice([o.value for o in item.options])))
    if rng.random() < 0.03:
        answers = answers[:-1]
    return answers


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_scoring_equals_the_scalar_scorer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    codes = sorted(definitions.catalogue())
    instruments = [codes[rng.integers(len(codes))] for _ in range(3000)]
    answers = [random_answers(rng, code) for code in instruments]
    texts = [
        json.dumps(a) if rng.random() < 0.5 else json.dumps(a, separators=(",", ":"))
        for a in answers
    ]
    problems = Problems("assessments", np.arange(1, len(texts) + 1))
    scored = score_items(pd.Series(instruments), pd.Series(texts), problems)
    rejected = {r.row - 1 for r in problems.rejections()}
    for i, (code, given) in enumerate(zip(instruments, answers, strict=True)):
        try:
            expected = score(code, given)
        except AnswerError:
            assert i in rejected, (code, given)
            continue
        assert i not in rejected, (
            code,
            given,
            [r for r in problems.rejections() if r.row == i + 1],
        )
        row = scored.iloc[i]
        assert bool(row["scorable"]) == expected.scorable, (code, given)
        if expected.score is None:
            assert np.isnan(row["score"])
        else:
            assert row["score"] == expected.score, (code, given)  # exact, not approximate
            assert row["raw_score"] == expected.raw
        assert json.loads(row["flags"]) == list(expected.flags)
    assert 0 < len(rejected) < len(texts)


def test_worked_examples_of_the_reference() -> None:
    """../shared/reference/instruments.md, 'Worked examples'."""
    texts = [
        "[1,2,1,0,3,2,1,0,2,1]",
        "[3,2,2,1,3,2,2,null,2,2]",
        "[3,null,2,1,null,2,2,null,2,2]",
        "[2,1,1,0,2,1,2,null,2,1]",
    ]
    problems = Problems("assessments", np.arange(1, 5))
    scored = score_items(pd.Series(["ODI", "ODI", "ODI", "NDI"]), pd.Series(texts), problems)
    assert scored["score"].iloc[0] == 26.0
    assert scored["score"].iloc[1] == pytest.approx(19 / 45 * 100, rel=1e-12)
    assert not scored["scorable"].iloc[2]
    assert scored["raw_score"].iloc[3] == pytest.approx(13 + 1 / 3, rel=1e-12)
    assert problems.count() == 0


def test_tokens_equal_pythons_strip_and_split_whatever_the_white_space() -> None:
    """The Arrow tokeniser (ASCII texts) splits exactly as Python's ``str.strip``/``split``
    does (the reference ``_tokens_unicode``), for every white space that FLAT lets through."""
    import re

    from prolo.interop.items import FLAT, _tokens, _tokens_unicode

    rng = np.random.default_rng(7)
    spaces = ["", " ", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "  \t"]
    words = ["0", "3", "-1", "10", "true", "false", "null", '"missing"', '"refused"']

    def space() -> str:
        return spaces[int(rng.integers(len(spaces)))]

    texts = []
    for _ in range(400):
        n = int(rng.integers(1, 5))
        inner = ",".join(space() + words[int(rng.integers(len(words)))] + space() for _ in range(n))
        texts.append("[" + inner + "]" + ("\n" if rng.random() < 0.1 else ""))
    flat = np.array([t for t in texts if re.match(FLAT, t)], dtype=object)
    assert len(flat) > 300
    for k in (1, 2, 3, 4):
        counts, (distinct, at) = _tokens(flat, k)
        reference_counts, (reference_distinct, reference_at) = _tokens_unicode(flat, k)
        assert counts.tolist() == reference_counts.tolist()
        assert distinct[at].tolist() == reference_distinct[reference_at].tolist()


def test_unicode_white_space_is_split_as_python_does() -> None:
    texts = ["[1,\u00a02]", "[\u20033 ,4]", "[5,6]"]
    problems = Problems("assessments", np.arange(1, 4))
    scored = score_items(pd.Series(["NRS"] * 3), pd.Series(texts), problems)
    assert len(problems.rejections()) == 3  # two answers where NRS has one
    assert {r.reason for r in problems.rejections()} == {
        "NRS item 0 (answers): expected 1 answers, got 2"
    }
    assert len(scored) == 3


def test_flat_texts_are_found_as_the_regex_finds_them() -> None:
    """``is_flat`` (structure and tokens in Arrow) equals ``re.match(FLAT)`` on random texts
    made of brackets, commas, white space, tokens and near-tokens."""
    import re

    from prolo.interop.items import FLAT, is_flat

    rng = np.random.default_rng(3)
    pieces = [
        "[", "]", ",", " ", "\n", "\t", "\x0b", "\x1c", "\r", "1", "0", "-", "12", "1234567",
        "01", "-0", '"missing"', '"refused"', '"x"', "null", "true", "false", "nul", "\u00a0",
        "[1", "2]", "]\n", "[]", "", "é",
    ]  # fmt: skip
    texts = ["".join(rng.choice(pieces, size=int(rng.integers(0, 9)))) for _ in range(20_000)]
    endings = ["", "\n", " ", "\n\n", "\r\n"]
    for _ in range(20_000):
        parts = rng.choice(pieces[9:22], size=int(rng.integers(1, 6)))
        texts.append("[" + ",".join(parts) + "]" + str(rng.choice(endings)))
    expected = np.array([re.match(FLAT, t) is not None for t in texts])
    found = is_flat(np.array(texts, dtype=object))
    assert expected.sum() > 1000
    mismatched = [t for t, e, f in zip(texts, expected, found, strict=True) if e != f]
    assert not mismatched, mismatched[:10]

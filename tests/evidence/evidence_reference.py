"""Where the outside reference values for the evidence tests live, and how to compare them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
RTOL = 1e-6


def metafor_reference_dir() -> Path:
    """``shared/reference/metafor`` beside the repository (``<repo>/../shared``).

    A git worktree can sit one level deeper than the main checkout, so the repository's
    ancestors are searched too; the first ``shared/reference/metafor`` found is used.
    """
    candidates = [REPO_ROOT / ".." / "shared", *(p / "shared" for p in REPO_ROOT.parents)]
    for shared in candidates:
        path = shared / "reference" / "metafor"
        if path.is_dir():
            return path.resolve()
    raise FileNotFoundError(f"no shared/reference/metafor beside {REPO_ROOT}")


def load_references() -> list[tuple[str, dict[str, Any]]]:
    """Every metafor reference file (made with metafor 3.8.1) as (file stem, content)."""
    files = sorted(metafor_reference_dir().glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no reference files in {metafor_reference_dir()}")
    return [(f.stem, json.loads(f.read_text())) for f in files]


def close(got: Any, expected: Any, rtol: float = RTOL) -> bool:
    """``got`` equals ``expected`` to relative ``rtol`` (exact zero and None must match)."""
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    if got is None:
        return False
    if expected == 0:
        return abs(got) < 1e-12
    return abs(got - expected) <= rtol * abs(expected)

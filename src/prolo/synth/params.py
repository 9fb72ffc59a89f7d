"""Parameters of the generative model: the documented defaults, overridable by a JSON file.

Each value and where it comes from is described in ``docs/synth.md``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

Params = dict[str, Any]


def defaults() -> Params:
    text = resources.files("prolo.synth").joinpath("default_params.json").read_text("utf-8")
    loaded: Params = json.loads(text)
    return loaded


def merged(base: Params, override: Params) -> Params:
    """``override`` on top of ``base``, nested objects merged key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = merged(base[key], value)
        else:
            out[key] = value
    return out


def load(path: Path | None = None, *, mnar: bool | None = None) -> Params:
    """The defaults, then the file at ``path`` (if any), then the MNAR switch (if given)."""
    params = defaults()
    if path is not None:
        params = merged(params, json.loads(Path(path).read_text("utf-8")))
    if mnar is not None:
        params = merged(params, {"follow_up": {"mnar": mnar}})
    return params

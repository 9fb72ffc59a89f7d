"""Schemathesis against /openapi.json with an administrator's token: every operation, on each
database; no answer is a 5xx, and every 4xx is a problem+json body.

Each operation gets a few examples valid by its schema and a few that break it (Hypothesis, no
shrinking, derandomized so that a run is repeatable); the failures of all operations are
gathered and reported together. The app runs on a database of its own, each request in its own
session as when serving (a failed request must not spoil the next one's transaction)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

EXAMPLES = int(os.environ.get("PROLO_FUZZ_EXAMPLES", "6"))
# Operations whose answer is not a JSON API answer (pages and files), checked elsewhere.
SKIPPED_PATHS: set[str] = set()


def _strategy(operation: Any) -> st.SearchStrategy[schemathesis.Case]:
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    # An operation with nothing to break (no parameters, no body) has no negative cases.
    with contextlib.suppress(Exception):
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(strategies)


def _content_type(response: Any) -> str:
    value = response.headers.get("content-type", "")
    return str(value[0] if isinstance(value, list) and value else value)


def _describe(case: schemathesis.Case, response: Any) -> str:
    return (
        f"{case.method} {case.formatted_path} query={case.query!r} "
        f"body={str(case.body)[:200]!r} -> {response.status_code} "
        f"{_content_type(response)} {response.text[:300]!r}"
    )


@pytest.fixture
def served(fresh_database_url: str) -> tuple[FastAPI, dict[str, str]]:
    """The app on a database of its own, and an administrator's bearer token for it."""
    from prolo.db import engine_for, transaction
    from prolo.security import service
    from prolo.security.principal import system
    from prolo.web.app import create_app

    with transaction(engine_for(fresh_database_url)) as session:
        issued = service.issue_token(
            session, username="admin", scope="admin", days=1, name="fuzz", actor=system()
        )
    return create_app(fresh_database_url), {"Authorization": f"Bearer {issued.secret}"}


def _first_line(error: BaseException) -> str:
    inner = getattr(error, "exceptions", None)  # Hypothesis wraps flaky failures
    if inner:
        error = inner[0]
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:600]


def test_every_operation_answers_without_5xx_and_4xx_as_problem_json(
    served: tuple[FastAPI, dict[str, str]],
) -> None:
    app, headers = served
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED_PATHS:
            continue
        operations += 1

        @given(case=_strategy(operation))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            # A generous timeout: rendering a figure (evidence/forest.svg) on a loaded machine
            # can take more than the default 10 s, which is slowness, not a server error.
            response = case.call(headers=headers, base_url="https://testserver", timeout=120)
            assert response.status_code < 500, _describe(case, response)
            if 400 <= response.status_code < 500:
                assert _content_type(response).startswith("application/problem+json"), _describe(
                    case, response
                )

        try:
            fuzz()
        except Exception as error:  # a failed check, or the app raised instead of answering
            failures[operation.label] = _first_line(error)
    assert operations > 80
    assert not failures, "\n".join(f"{k}: {v}" for k, v in sorted(failures.items()))

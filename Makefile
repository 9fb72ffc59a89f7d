# Two commands matter: `make demo` runs the main job, `make test` runs every check CI runs.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: demo test setup lint typecheck pytest bench

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

demo: setup
	$(UV) run prolo demo

lint: setup
	$(UV) run ruff check src tests benchmarks
	$(UV) run ruff format --check src tests benchmarks

typecheck: setup
	$(UV) run mypy

pytest: setup
	$(UV) run pytest -n 2 --dist loadgroup

test: lint typecheck pytest

# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: test lint typecheck bench demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The native verifier is compiled at install time, so its source is a prerequisite too.
NATIVE := src/charter/_chainscan.c

$(VENV)/.installed-test: pyproject.toml $(NATIVE) | $(BIN)/python
	bash scripts/build-deps.sh
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $@

$(VENV)/.installed: pyproject.toml $(NATIVE) | $(BIN)/python
	bash scripts/build-deps.sh
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

# The demo trains scikit-learn models on pandas frames: the demo extra.
$(VENV)/.installed-demo: pyproject.toml $(NATIVE) | $(BIN)/python
	bash scripts/build-deps.sh
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[demo]'
	touch $@

## test: lint, type check and the whole suite (SQLite and PostgreSQL)
test: $(VENV)/.installed-test lint typecheck
	bash scripts/test-services.sh
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# Evidently pins pandas < 3, so the drift benchmark runs it from a venv of its own.
EVIDENTLY := .bench/evidently/bin/python

$(EVIDENTLY):
	$(PYTHON) -m venv .bench/evidently
	$(EVIDENTLY) -m pip install --quiet --disable-pip-version-check 'evidently==0.7.23' 'pandas<3'

## bench: the speed and memory benchmarks (not part of the tests)
bench: $(VENV)/.installed-test $(EVIDENTLY)
	bash scripts/test-services.sh
	$(BIN)/python benchmarks/ledger.py
	$(BIN)/python benchmarks/registry.py
	$(BIN)/python benchmarks/fairness.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/streaming.py
	$(BIN)/python benchmarks/rowhash.py
	$(BIN)/python benchmarks/decision_logging.py
	$(BIN)/python benchmarks/gate.py
	$(BIN)/python benchmarks/monitor.py
	$(BIN)/python benchmarks/explain.py

## demo: the whole governance loop in a fresh ./.charter-demo, then the dashboard on 127.0.0.1:8465
## (arguments for `charter demo` from CHARTER_DEMO_ARGS, e.g. CHARTER_DEMO_ARGS=--no-serve; docs/demo.md)
CHARTER_DEMO_ARGS ?=
demo: $(VENV)/.installed-demo
	$(BIN)/charter demo --fresh $(CHARTER_DEMO_ARGS)

clean:
	rm -rf $(VENV) .bench .pytest_cache .mypy_cache .ruff_cache .hypothesis .charter-demo

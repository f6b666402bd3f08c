# riskseal — the two commands: `make demo` and `make test`.
# Each creates .venv and installs what it needs the first time (and when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv lint test test-unit test-integration demo bench bench-sdk bench-sealer bench-verify bench-detection bench-risk bench-broker clean

help:
	@echo "make demo   run the end-to-end demo on a local real stack"
	@echo "make test   lint (ruff, mypy) and run unit + integration tests"
	@echo "make bench  run the benchmarks (tables with a baseline from the same run)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "riskseal needs Python 3.11 or newer; run with PYTHON=/path/to/python3.11" >&2; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test-unit: venv
	$(BIN)/pytest tests/unit

test-integration: venv
	$(BIN)/pytest tests/integration

test: lint
	$(BIN)/pytest

demo: venv
	$(BIN)/riskseal demo

bench: bench-sdk bench-sealer bench-verify bench-detection bench-risk bench-broker

bench-sdk: venv
	$(BIN)/python -m bench.sdk

bench-sealer: venv
	$(BIN)/python -m bench.sealer

bench-verify: venv
	$(BIN)/python -m bench.verify

bench-detection: venv
	$(BIN)/python -m bench.detection

bench-risk: venv
	$(BIN)/python -m bench.risk

bench-broker: venv
	$(BIN)/python -m bench.broker

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis

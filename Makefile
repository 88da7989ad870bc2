# The two commands of README.md. Both set up everything on a fresh machine with Python 3.11+.
#   make demo   - install the ledger with its embedded PostgreSQL, run `ledger demo`
#   make test   - install the dev tools, lint, type-check and run the whole test suite

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint setup-demo setup-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup-demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[embedded]"

setup-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"

demo: setup-demo
	$(BIN)/ledger demo

lint: setup-test
	$(BIN)/ruff check ledger tests tools benchmarks
	$(BIN)/ruff format --check ledger tests tools benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

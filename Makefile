# Two commands on a fresh machine:
#   make run    # venv, install, migrate the SQLite database under ./var/, demo data, serve
#   make test   # venv, install, ruff, mypy, the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
# pytest workers (pytest-xdist): one per core, each a test session with databases of its
# own; 0 runs the suite in this process.
PYTEST_WORKERS ?= auto

.PHONY: run test lint install serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/qinglu db upgrade
	$(BIN)/qinglu demo
	$(BIN)/qinglu serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/ledger.py

clean:
	rm -rf $(VENV) var test-output

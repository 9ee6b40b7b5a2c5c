# Two commands on a fresh machine with python3 and make: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
KEEL := $(VENV)/bin/keel
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.8
# two workers: each gets its own database and Redis db (tests/conftest.py); the suite takes half the time
PYTEST_ARGS ?= -n 2

.PHONY: install run migrate seed test lint bench openapi clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --frozen --inexact --compile-bytecode
	@touch $@

install: $(STAMP) ## venv + locked install (uv.lock)

migrate: install ## upgrade the database to head and load seed data
	$(KEEL) migrate

run: migrate ## set up, migrate, seed and serve on http://127.0.0.1:8000 (docs at /schema)
	$(KEEL) serve

test: install ## the whole suite against the configured database (SQLite unless DATABASE_URL is set)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install ## ruff (rules and format) and mypy --strict on keel.core and keel.identity
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy src/keel/core src/keel/identity

bench: install ## load benchmarks: prints a table, writes var/bench/*.json
	$(PY) -m benchmarks.run

openapi: install
	$(KEEL) openapi openapi.json

clean:
	rm -rf $(VENV) var/keel.db* var/storage var/prometheus

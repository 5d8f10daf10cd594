# Meridian: `make run` (embedded, no servers) and `make test` are the two commands for a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := gateway ingest ticket routing translation knowledge-base compliance
STAMP := $(VENV)/.installed

.PHONY: install run run-distributed test test-unit test-service test-integration bench bench-trace lint proto up down

install: $(STAMP)

$(STAMP): libs/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml) requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e libs $(foreach s,$(SERVICES),-e services/$(s)) -r requirements-dev.txt
	touch $(STAMP)

run: install
	$(VENV)/bin/meridian run

run-distributed: install
	$(VENV)/bin/meridian run-distributed

# Unit, service, contract and integration tests. Service and integration tests need the local
# PostgreSQL and Redis (started here when down); integration tests start their own Tansu broker.
test: install
	bash scripts/ensure_local_services.sh
	$(PY) -m pytest -q

test-unit: install
	$(PY) -m pytest -q tests/unit

test-service: install
	bash scripts/ensure_local_services.sh
	$(PY) -m pytest -q tests/service

test-integration: install
	bash scripts/ensure_local_services.sh
	$(PY) -m pytest -q tests/integration

bench: install
	bash scripts/ensure_local_services.sh
	$(PY) bench/run.py

bench-trace: install
	bash scripts/ensure_local_services.sh
	$(PY) bench/trace.py

lint: install
	$(VENV)/bin/ruff check libs services tests scripts bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/buf lint proto

proto: install
	$(PY) scripts/gen_proto.py

up:
	docker compose up -d --build

down:
	docker compose down

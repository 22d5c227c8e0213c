# Timebridge developer commands. `make dev` runs the platform, `make test` passes the tests;
# both install what is missing (Python env, Kafka jars, PostgreSQL) on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
INFRA := bash deploy/local/infra.sh
SRC := libs/common/src libs/providers/src services/ingest/src services/mapping/src \
       services/conflict-resolver/src services/invoice-export/src services/reporting/src \
       services/console/src services/contracts/src services/credentials/src sandboxes/src
TESTS := libs/common/tests libs/providers/tests services/ingest/tests services/mapping/tests \
         services/conflict-resolver/tests services/invoice-export/tests \
         services/reporting/tests services/console/tests services/contracts/tests \
         services/credentials/tests \
         sandboxes/tests tests/deploy \
         tests/integration

.PHONY: help install infra-up infra-down infra-status topics dev test test-unit \
        test-integration lint format schemas lock bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: ## create/refresh .venv from requirements/lock.txt
	@bash deploy/local/python-env.sh

infra-up: ## start Kafka (KRaft) and PostgreSQL, installing them if missing
	@$(INFRA) up

infra-down: ## stop Kafka and PostgreSQL
	@$(INFRA) down

infra-status: ## show whether Kafka and PostgreSQL run
	@$(INFRA) status

topics: install infra-up ## create the platform's topics (idempotent)
	@$(VENV)/bin/timebridge-topics create

dev: install infra-up topics ## run the whole platform on this machine (Ctrl-C stops it)
	@$(PY) deploy/local/dev.py

test: install infra-up ## unit + integration tests against the real Kafka and PostgreSQL
	@$(PY) -m pytest $(TESTS)

test-unit: install ## unit tests only (no Kafka, no PostgreSQL)
	@$(PY) -m pytest $(filter-out tests/integration,$(TESTS))

test-integration: install infra-up ## integration tests only
	@$(PY) -m pytest tests/integration

lint: install ## ruff check, ruff format --check, mypy --strict
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy $(SRC) $(TESTS) deploy/local bench

format: install ## apply ruff fixes and formatting
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

schemas: install ## publish a new revision of every event schema that changed
	@$(VENV)/bin/timebridge-schemas write schemas

lock: install ## re-pin requirements/lock.txt from requirements/main.in
	@$(VENV)/bin/uv pip compile -q requirements/main.in -o requirements/lock.txt --no-header --no-annotate

clean: ## stop everything and delete local state (.local) and the virtualenv
	@$(INFRA) down || true
	rm -rf .local $(VENV)

bench: install infra-up topics ## every issue-12 phase with its goal (bench/results/suite.json), then the 10M-entry report (docs/performance.md)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	@$(PY) -m bench.suite $(BENCH_ARGS)   # BENCH_ARGS="--soak-seconds 600" for the 10-minute soak
	@$(PY) bench/reports_rollup.py   # a month's utilization over 10M entries (~5 min)

# Dummi: `make run` starts the service on a fresh machine; `make test` runs the whole suite (what CI runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AWS_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help run test lint format openapi validate build clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dummi needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-local

run: $(VENV)/.installed-local ## serve the API on 127.0.0.1:8000 (PORT, DUMMI_DATA_DIR, DATABASE_URL override)
	$(BIN)/dummi run

test: $(VENV)/.installed-dev ## lint, unit, integration and end-to-end tests, and `sam validate --lint`
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
	$(BIN)/sam validate --lint --region $(AWS_REGION)

lint: $(VENV)/.installed-dev ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: $(VENV)/.installed-local ## export the OpenAPI spec to shared/openapi.json
	$(BIN)/dummi openapi --out shared/openapi.json

validate: $(VENV)/.installed-dev ## sam validate --lint
	$(BIN)/sam validate --lint --region $(AWS_REGION)

build: $(VENV)/.installed-dev ## sam build (needs python3.12 on PATH, e.g. from pyenv)
	$(BIN)/sam build --region $(AWS_REGION)

clean: ## remove the virtual environment, build output and local data
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .dummi

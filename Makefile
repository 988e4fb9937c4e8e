# Dummi: `make run` starts the service on a fresh machine; `make test` runs the whole suite (what CI runs).
SHELL := /bin/bash
PYTHON ?= python3
PYTHON312 ?= $(shell command -v python3.12 || ls $(HOME)/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1)
VENV := .venv
BIN := $(VENV)/bin
# The SAM CLI pins click at a version transformers refuses, so it gets a virtual environment of its own.
SAM := $(VENV)/tools/bin/sam
AWS_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help run test lint format openapi validate build model train bench training-image training-deps-check clean

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

$(SAM): | $(BIN)/python
	$(PYTHON) -m venv $(VENV)/tools
	$(VENV)/tools/bin/pip install --quiet 'aws-sam-cli>=1.120'

run: $(VENV)/.installed-local ## serve the API on 127.0.0.1:8000 (PORT, DUMMI_DATA_DIR, DATABASE_URL override)
	$(BIN)/dummi run

test: $(VENV)/.installed-dev $(SAM) ## lint, unit, integration and end-to-end tests, and `sam validate --lint`
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest
	$(SAM) validate --lint --region $(AWS_REGION)

lint: $(VENV)/.installed-dev ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: $(VENV)/.installed-local ## export the OpenAPI spec to shared/openapi.json
	$(BIN)/dummi openapi --out shared/openapi.json

validate: $(SAM) ## sam validate --lint
	$(SAM) validate --lint --region $(AWS_REGION)

build: $(SAM) ## sam build of every zip function and layer (python3.12 from PATH or pyenv)
	PATH="$(dir $(PYTHON312)):$$PATH" $(SAM) build --region $(AWS_REGION)

model: $(VENV)/.installed-local ## export all-MiniLM-L6-v2 to ONNX into DUMMI_MODEL_DIR (default .dummi/model)
	$(BIN)/dummi export-model

train: $(VENV)/.installed-local ## run the training pipeline once, with progress bars
	$(BIN)/dummi train

bench: $(VENV)/.installed-dev ## print the benchmark figures (embeddings, index, training); takes minutes
	$(BIN)/python tests/benchmarks/bench_embeddings.py
	$(BIN)/python tests/benchmarks/bench_index.py
	$(BIN)/python tests/benchmarks/bench_training.py
	$(BIN)/python tests/benchmarks/bench_recommend.py 100000 100000
	$(BIN)/pip install --quiet -e '.[bench]' && $(BIN)/python tests/benchmarks/bench_reference.py

training-image: ## docker build of the training/embedding image (needs a Docker engine)
	docker build -f functions/training/Dockerfile -t dummi-training .

training-deps-check: ## without Docker: install the image's requirements for python3.12, import the handlers, print the size
	rm -rf .aws-sam/training-deps
	$(PYTHON312) -m pip install --quiet --target .aws-sam/training-deps -r functions/training/requirements.txt
	PYTHONPATH=.aws-sam/training-deps:shared:functions/training POWERTOOLS_TRACE_DISABLED=1 \
		$(PYTHON312) -c 'import sys, app; assert "torch" not in sys.modules; print("handlers import without torch")'
	@du -sm .aws-sam/training-deps | awk '{print "training image dependencies: " $$1 " MB unzipped (+ the 90 MB ONNX model)"}'


clean: ## remove the virtual environment, build output and local data
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .dummi

# Dummi: `make run` starts the service on a fresh machine; `make test` runs the whole suite (what CI runs).
SHELL := /bin/bash
PYTHON ?= python3
# Real interpreters, not pyenv shims (a shim first on PATH re-invokes itself during sam build).
PYTHON312 ?= $(or $(shell ls $(HOME)/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1),$(shell command -v python3.12))
# LocalStack in host mode needs Python 3.13 (it imports warnings.deprecated).
PYTHON313 ?= $(or $(shell ls $(HOME)/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1),$(shell command -v python3.13))
VENV := .venv
BIN := $(VENV)/bin
LOCALSTACK_VENV := $(VENV)/localstack
# The SAM CLI pins click at a version transformers refuses, so it gets a virtual environment of its own.
SAM := $(VENV)/tools/bin/sam
AWS_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help run test test-unit test-localstack lint format docs openapi validate build model train bench fuzz load faults invoke-train \
	invoke-recommend training-image training-deps-check spark-setup spark-env spark-upload cache-setup console-vendor browser-setup \
	console-screenshots image container-setup clean

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
	@touch $@ $(VENV)/.installed-local $(VENV)/.installed-docs

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[docs]'
	@touch $@

$(SAM): | $(BIN)/python
	$(PYTHON) -m venv $(VENV)/tools
	$(VENV)/tools/bin/pip install --quiet 'aws-sam-cli>=1.120'

run: $(VENV)/.installed-local ## serve the API on 127.0.0.1:8000 (PORT, DUMMI_DATA_DIR, DATABASE_URL override)
	$(BIN)/dummi run

test: $(VENV)/.installed-dev $(SAM) spark-setup cache-setup browser-setup container-setup ## lint, the strict docs build, all tests (AWS tier on moto), sam validate + build, the AWS tier on LocalStack
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=shared $(BIN)/lint-imports
	$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest
	$(SAM) validate --lint --region $(AWS_REGION)
	$(MAKE) --no-print-directory build
	@if [ -n "$(PYTHON313)" ]; then $(MAKE) --no-print-directory test-localstack; \
	else echo "skipped: the LocalStack tier needs Python 3.13 (make test-localstack)"; fi

test-unit: $(VENV)/.installed-dev ## the fast loop: the unit tier (tests/unit) without its slow tests, under a minute
	$(BIN)/python -m pytest -q -m "not slow" tests/unit

$(LOCALSTACK_VENV)/bin/python:
	@test -n "$(PYTHON313)" || { echo "test-localstack needs Python 3.13 (set PYTHON313=...)"; exit 1; }
	$(PYTHON313) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install --quiet 'localstack-core[runtime]==2026.3.0' 'cbor2<6' \
		'pyopenssl==25.3.0' 'cryptography<47' service_identity hypercorn

test-localstack: $(VENV)/.installed-dev $(LOCALSTACK_VENV)/bin/python ## the AWS tier against LocalStack in host mode
	bash localstack/run-tests.sh

lint: $(VENV)/.installed-dev ## ruff check and format check; the import contract of shared/dummi's layers (pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=shared $(BIN)/lint-imports

format: $(VENV)/.installed-dev ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(VENV)/.installed-docs ## build the docs site (README + docs/) into build/site; strict: a broken link or anchor fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

openapi: $(VENV)/.installed-local ## export the OpenAPI spec to shared/openapi.json
	$(BIN)/dummi openapi --out shared/openapi.json

validate: $(SAM) ## sam validate --lint
	$(SAM) validate --lint --region $(AWS_REGION)

build: $(SAM) ## sam build of every zip function and layer (python3.12 from PATH or pyenv); skips the image
	@test -n "$(PYTHON312)" || { echo "sam build needs Python 3.12 (set PYTHON312=...)"; exit 1; }
	PATH="$(dir $(PYTHON312)):$$PATH" $(SAM) build --region $(AWS_REGION) --cached --parallel

invoke-train: build ## with Docker: run the scheduled training event through sam local invoke
	$(SAM) local invoke TrainingFunction --event tests/events/training_schedule.json --config-env local

invoke-recommend: build ## with Docker: run a recommendation request through sam local invoke
	$(SAM) local invoke RecommendationsFunction --event tests/events/recommendations_recommend.json --config-env local

model: $(VENV)/.installed-local ## export all-MiniLM-L6-v2 to ONNX into DUMMI_MODEL_DIR (default .dummi/model)
	$(BIN)/dummi export-model

train: $(VENV)/.installed-local ## run the training pipeline once, with progress bars
	$(BIN)/dummi train

fuzz: $(VENV)/.installed-dev ## schemathesis, every check, in process and over HTTP against `dummi run`: up to 1000 cases per operation (DUMMI_FUZZ_EXAMPLES)
	DUMMI_FUZZ_EXAMPLES=$${DUMMI_FUZZ_EXAMPLES:-1000} $(BIN)/python -m pytest -q -p no:cacheprovider tests/fuzz

load: $(VENV)/.installed-dev ## 60 s of mixed load at 300 requests/s against `dummi run` (10K items, 10K users)
	cd tests/benchmarks && ../../$(BIN)/python load.py $(LOAD_ARGS)

faults: $(VENV)/.installed-dev ## load.py's mix while Postgres, a server process, the store, the disk and the cache fail (~10 min)
	cd tests/benchmarks && ../../$(BIN)/python faults.py $(FAULTS_ARGS)

bench: $(VENV)/.installed-dev ## print the benchmark figures (embeddings, index, training, calibration), draw docs/*.png; long (10K-item training alone ~5 min)
	$(BIN)/python tests/benchmarks/bench_embeddings.py
	$(BIN)/python tests/benchmarks/bench_index.py
	$(BIN)/python tests/benchmarks/bench_training.py
	$(BIN)/python tests/benchmarks/bench_recommend.py 100000 100000
	$(BIN)/python tests/benchmarks/calibrate_interest_match.py
	$(BIN)/pip install --quiet -e '.[bench]' && $(BIN)/python tests/benchmarks/bench_reference.py
	$(BIN)/python tests/benchmarks/plot_coverage_tradeoff.py
	$(BIN)/python tests/benchmarks/simulate_experiments.py
	$(BIN)/python tests/benchmarks/plot_diversity_tradeoff.py
	$(BIN)/python tests/benchmarks/bench_rerank.py
	$(BIN)/python tests/benchmarks/simulate_exploration.py
	$(BIN)/python tests/benchmarks/experiment_e2e.py
	$(BIN)/python tests/benchmarks/bench_console.py

training-image: ## docker build of the training/embedding image (needs a Docker engine)
	docker build -f functions/training/Dockerfile -t dummi-training .

training-deps-check: ## without Docker: install the image's requirements for python3.12, import the handlers, print the size
	rm -rf .aws-sam/training-deps
	$(PYTHON312) -m pip install --quiet --target .aws-sam/training-deps -r functions/training/requirements.txt
	PYTHONPATH=.aws-sam/training-deps:shared:functions/training POWERTOOLS_TRACE_DISABLED=1 \
		$(PYTHON312) -c 'import sys, app; assert "torch" not in sys.modules; print("handlers import without torch")'
	@du -sm .aws-sam/training-deps | awk '{print "training image dependencies: " $$1 " MB unzipped (+ the 90 MB ONNX model)"}'


# -- the operator console --------------------------------------------------------------------------------------
# Chart.js from the npm registry, vendored into the package (no CDN, no fetch at run time): the version and the
# registry's integrity of its tarball are recorded here; the tarball is checked against it before anything is
# unpacked, and the unpacked file's SHA-256 is recorded beside it (a test checks the committed file against it).
CHARTJS_VERSION := 4.5.1
CHARTJS_INTEGRITY := sha512-GIjfiT9dbmHRiYi6Nl2yFCq7kkwdkp1W/lp2J99rX0yo9tgJGn3lKQATztIjb5tVtevcBtIdICNWqlq5+E8/Pw==
CONSOLE_VENDOR := shared/dummi/console/vendor
CHROMIUM ?= $(or $(shell command -v chromium 2>/dev/null),$(shell command -v chromium-browser 2>/dev/null))

console-vendor: ## fetch Chart.js $(CHARTJS_VERSION) from the npm registry, check its integrity, unpack it into the console
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null \
		&& got="sha512-$$(openssl dgst -sha512 -binary chart.js-$(CHARTJS_VERSION).tgz | base64 -w0)" \
		&& { [ "$$got" = "$(CHARTJS_INTEGRITY)" ] || { echo "chart.js tarball integrity $$got != $(CHARTJS_INTEGRITY)"; exit 1; }; } \
		&& tar xzf chart.js-$(CHARTJS_VERSION).tgz package/dist/chart.umd.min.js package/LICENSE.md \
		&& cd - >/dev/null && mkdir -p $(CONSOLE_VENDOR) \
		&& cp "$$tmp/package/dist/chart.umd.min.js" $(CONSOLE_VENDOR)/chart.umd.min.js \
		&& cp "$$tmp/package/LICENSE.md" $(CONSOLE_VENDOR)/chart.js-LICENSE.md \
		&& printf '{\n  "package": "chart.js",\n  "version": "%s",\n  "integrity": "%s",\n  "file": "chart.umd.min.js",\n  "sha256": "%s"\n}\n' \
			$(CHARTJS_VERSION) '$(CHARTJS_INTEGRITY)' "$$(sha256sum $(CONSOLE_VENDOR)/chart.umd.min.js | cut -d' ' -f1)" \
			> $(CONSOLE_VENDOR)/chart.js.json && echo "vendored chart.js $(CHARTJS_VERSION) into $(CONSOLE_VENDOR)"

browser-setup: ## Debian's Chromium for the console's browser tests (apt, as root, where missing)
	@test -n "$(CHROMIUM)" || [ -n "$$DUMMI_CHROMIUM" ] || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; \
		else echo "note: the console's browser tests need Chromium (Debian: apt-get install chromium; or set DUMMI_CHROMIUM=/path/to/chrome); they skip without it"; fi; }

console-screenshots: $(VENV)/.installed-dev browser-setup ## screenshots of every console view into docs/console-*.png (a real `dummi run`, Chromium)
	$(BIN)/python tests/browser/screenshots.py docs

# -- the container image ----------------------------------------------------------------------------------------
# docker where its engine answers (a client alone is not enough), else podman
CONTAINER_ENGINE ?= $(or $(shell docker info >/dev/null 2>&1 && command -v docker),$(shell command -v podman 2>/dev/null),docker)

image: ## build the API image dummi-ai (Dockerfile) with docker, or podman where no Docker engine runs
	@test -n "$(CONTAINER_ENGINE)" || { echo "needs docker or podman"; exit 1; }
	$(CONTAINER_ENGINE) build $(if $(findstring podman,$(CONTAINER_ENGINE)),--format docker) -t dummi-ai .

container-setup: ## podman, runc and debootstrap for the container tests (apt, as root, where missing)
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q podman runc debootstrap || { apt-get update -q && apt-get install -y -q podman runc debootstrap; }; \
		else echo "note: the container tests need podman, runc and debootstrap as root (Debian: apt-get install podman runc debootstrap); they skip without them"; fi; }

cache-setup: ## a redis-server for the result cache (its tests, `dummi run --result-cache`): apt, as root, where missing
	@command -v valkey-server >/dev/null || command -v redis-server >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q redis-server || { apt-get update -q && apt-get install -y -q redis-server; }; \
		else echo "note: the result cache needs redis-server or valkey-server (Debian: apt-get install redis-server; a Mac: brew install valkey); its tests skip without it"; fi; }


# -- the Spark engine of training ------------------------------------------------------------------------------
SPARK_PYTHON_VERSION ?= 3.12
# wheels for EMR 7's Amazon Linux 2023 (glibc 2.34, x86_64): newer releases ship manylinux_2_28 wheels only
SPARK_PLATFORMS ?= manylinux_2_28_x86_64 manylinux2014_x86_64
# a relocatable CPython of SPARK_PYTHON_VERSION (e.g. python-build-standalone's) to ship inside the environment;
# empty: the EMR image's interpreter (/usr/bin/python$(SPARK_PYTHON_VERSION), functions/training/spark.Dockerfile)
SPARK_PYTHON_HOME ?=
SPARK_BUILD := .aws-sam/spark

spark-setup: ## Java 17+ and the PostgreSQL JDBC driver for the Spark engine (apt, as root, where missing)
	@command -v java >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q openjdk-17-jre-headless || { apt-get update -q && apt-get install -y -q openjdk-17-jre-headless; }; \
		else echo "note: the Spark engine needs Java 17+ (Debian: apt-get install openjdk-17-jre-headless; a Mac: brew install openjdk@17); its tests skip without it"; fi; }
	@test -f /usr/share/java/postgresql.jar || [ -n "$$DUMMI_JDBC_JAR" ] || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get install -y -q libpostgresql-jdbc-java || { apt-get update -q && apt-get install -y -q libpostgresql-jdbc-java; }; \
		else echo "note: no PostgreSQL JDBC driver (DUMMI_JDBC_JAR): Spark reads events through a Parquet export instead"; fi; }

spark-env: $(VENV)/.installed-local ## the Spark job's files for EMR Serverless, without Docker (.aws-sam/spark)
	rm -rf $(SPARK_BUILD) && mkdir -p $(SPARK_BUILD)/environment/bin
	$(BIN)/pip install --quiet $(addprefix --platform ,$(SPARK_PLATFORMS)) --python-version $(SPARK_PYTHON_VERSION) --implementation cp \
		--only-binary=:all: --target $(SPARK_BUILD)/environment/lib/site-packages -r functions/training/requirements-spark.txt
	cp -r shared/dummi $(SPARK_BUILD)/environment/lib/site-packages/ && find $(SPARK_BUILD) -name __pycache__ -prune -exec rm -rf {} +
	$(BIN)/dummi export-model --out $(SPARK_BUILD)/environment/model
	@if [ -n "$(SPARK_PYTHON_HOME)" ]; then cp -r "$(SPARK_PYTHON_HOME)" $(SPARK_BUILD)/environment/python; \
		echo "shipping the interpreter in $(SPARK_PYTHON_HOME)"; fi
	sed 's/@PYTHON_VERSION@/$(SPARK_PYTHON_VERSION)/' functions/training/spark-python.sh > $(SPARK_BUILD)/environment/bin/python
	chmod +x $(SPARK_BUILD)/environment/bin/python
	tar -C $(SPARK_BUILD)/environment -czf $(SPARK_BUILD)/environment.tar.gz .
	cp shared/dummi/training/spark/job.py $(SPARK_BUILD)/job.py
	@jar=$${DUMMI_JDBC_JAR:-/usr/share/java/postgresql.jar}; if [ -f "$$jar" ]; then cp "$$jar" $(SPARK_BUILD)/postgresql.jar; \
		else echo "note: no JDBC jar to ship; jobs read events through a Parquet export"; fi
	@du -sh $(SPARK_BUILD)/environment.tar.gz | awk '{print "packed environment: " $$1 " (Python $(SPARK_PYTHON_VERSION), $(firstword $(SPARK_PLATFORMS)))"}'

spark-upload: $(VENV)/.installed-local ## upload .aws-sam/spark to SPARK_PREFIX=s3://bucket/prefix (the template's SparkArtifactsPrefix)
	@test -n "$(SPARK_PREFIX)" || { echo "set SPARK_PREFIX=s3://bucket/prefix"; exit 1; }
	@test -f $(SPARK_BUILD)/environment.tar.gz || { echo "run make spark-env first"; exit 1; }
	$(BIN)/dummi spark-upload --from $(SPARK_BUILD) --to $(SPARK_PREFIX)

clean: ## remove the virtual environment, build output and local data
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .dummi build/site

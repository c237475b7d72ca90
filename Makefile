# finlake front door. Every target creates or reuses .venv from the pinned requirements.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDK_CLI := aws-cdk@2.1148.1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv demo test test-fast lint typecheck synth cdk-synth cdk-diff cdk-deploy bench clean

help:
	@echo "make demo   - run all domains on the embedded AWS with sample data"
	@echo "make test   - lint, type-check and run the whole test suite"
	@echo "make synth  - synthesize the CDK app into cdk.out/ (pip builds the bank layer: PyPI, first time)"
	@echo "make bench  - run the benchmarks and rewrite BENCHMARKS.md"

$(STAMP): requirements.txt requirements-dev.txt requirements-bench.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-bench.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/finlake run --all

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

synth: $(STAMP)
	$(BIN)/python app.py

# The same synthesis through the pinned CDK CLI (2.1xxx; the 3.x CLI rejects this cloud-assembly schema).
cdk-synth: $(STAMP)
	npx --yes $(CDK_CLI) synth --app "$(BIN)/python app.py" --quiet

# What CI/CD calls (.github/workflows/deploy.yml), with credentials from the environment (OIDC role).
cdk-diff: $(STAMP)
	npx --yes $(CDK_CLI) diff --app "$(BIN)/python app.py" --all

cdk-deploy: $(STAMP)
	npx --yes $(CDK_CLI) deploy --app "$(BIN)/python app.py" --all --require-approval never

bench: $(STAMP)
	$(BIN)/python -m finlake.bench

clean:
	rm -rf $(VENV) cdk.out .finlake .pytest_cache .mypy_cache .ruff_cache

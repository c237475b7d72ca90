# finlake front door. Every target creates or reuses .venv from the pinned requirements.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDK_CLI := aws-cdk@2.1148.1
# checkov and pip-audit pin many packages of their own: a venv of their own, so .venv's pins stay as they are.
SECURITY_VENV := .venv-security
SECURITY_STAMP := $(SECURITY_VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv browser demo test test-fast lint typecheck security asl synth cdk-synth cdk-diff cdk-deploy aws-smoke bench console console-shots clean

help:
	@echo "make demo   - run all domains on the embedded AWS with sample data"
	@echo "make test   - lint, type-check and run the whole test suite"
	@echo "make asl    - render statemachines/*.asl.json from the domain specs (stacks/asl.py)"
	@echo "make synth  - synthesize the CDK app into cdk.out/ (pip builds the bank layer: PyPI, first time)"
	@echo "make bench  - run the benchmarks and rewrite BENCHMARKS.md"
	@echo "make aws-smoke - deploy under a throwaway prefix into your AWS account, run every domain, delete it all"
	@echo "                 (SMOKE_ARGS=--dry-run prints every AWS call instead)"
	@echo "make console - serve the local web console on http://127.0.0.1:8050/"

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt requirements-bench.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-bench.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

$(SECURITY_STAMP): requirements-security.txt
	test -x $(SECURITY_VENV)/bin/python || $(PYTHON) -m venv $(SECURITY_VENV)
	$(SECURITY_VENV)/bin/python -m pip install --quiet --upgrade pip==25.3
	$(SECURITY_VENV)/bin/python -m pip install --quiet -r requirements-security.txt
	touch $(SECURITY_STAMP)

# The browser the console's tests drive: Debian's Chromium (never a browser download of its own).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }

demo: $(STAMP)
	$(BIN)/finlake run --all

# security and lint are each about one core's work (checkov's synthesis, mypy): they run side by side, each
# target's output printed whole (-O); either failing stops the test run.
test: $(STAMP) browser
	$(MAKE) --no-print-directory -j2 -O security lint
	$(BIN)/pytest

# bandit at medium severity and confidence (-ll -ii). The low findings were reviewed: asserts in
# type narrowing, `random` in the sample generators and the benchmark, subprocess in the benchmark
# and tests' helpers, fixed test credentials of the embedded AWS ("testing"), ElementTree on OFX
# (stdlib expat: no external entities). See docs/decisions/0009-deploy-contracts.md.
# checkov on the templates synthesized offline, with security/checkov-skips.json; pip-audit on every
# requirements file, skipped with a message when the vulnerability service does not answer
# (finlake/security.py, docs/decisions/0010-security-checks-and-aws-smoke.md).
security: $(STAMP) $(SECURITY_STAMP)
	$(BIN)/bandit -q -r functions finlake stacks glue app.py -ll -ii
	$(BIN)/python -m finlake.security checkov
	$(BIN)/python -m finlake.security pip-audit

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The definitions are rendered from stacks/specs.py and committed (tests/unit/test_asl.py: committed == rendered).
asl: $(STAMP)
	$(BIN)/python -m stacks.asl

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

# Against the caller's AWS account (credentials from the environment or AWS_PROFILE); see finlake/smoke.py.
aws-smoke: $(STAMP)
	$(BIN)/python -m finlake.smoke $(SMOKE_ARGS)

bench: $(STAMP)
	$(BIN)/python -m finlake.bench

console: $(STAMP)
	$(BIN)/finlake console

# Screenshots of the console's pages (docs/console/*.png), taken by its browser tests.
console-shots: $(STAMP) browser
	FINLAKE_CONSOLE_SHOTS=docs/console $(BIN)/pytest tests/console -q -p no:cacheprovider

clean:
	rm -rf $(VENV) $(SECURITY_VENV) cdk.out .finlake .pytest_cache .mypy_cache .ruff_cache

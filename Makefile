# The Makefile is the interface: every target sets up what it needs itself.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
JAVA_STAMP := .local/.java-ok
CHROMIUM_STAMP := .local/.chromium-ok
export CHROMIUM ?= chromium
SERVICE ?=
STAGE ?= dev
PORT ?= 3000
export AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= $(AWS_REGION)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii relays its Node end-of-life banner as Python byte strings: `make up` says it in one line instead.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)

.PHONY: help setup lint format unit integration infra-test local-test web-test screenshots test demo up invoke reset bench synth deploy seed destroy openapi lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[runtime,infra,dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(JAVA_STAMP):
	@mkdir -p .local
	@command -v java >/dev/null || { echo "java not found: installing openjdk-17-jre-headless"; \
		apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
	@java -version 2>&1 | head -1
	touch $@

$(CHROMIUM_STAMP):
	@mkdir -p .local
	@command -v $(CHROMIUM) >/dev/null || { echo "$(CHROMIUM) not found: installing Debian's chromium for the browser tests"; \
		apt-get update -qq && apt-get install -y -qq chromium; }
	@$(CHROMIUM) --version
	touch $@

setup: $(VENV_STAMP) $(NODE_STAMP) $(JAVA_STAMP) ## Create .venv, install Python and Node packages, check Java

lint: $(VENV_STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/python infra local_runtime bench clients tests $(wildcard services/*/*/)

format: $(VENV_STAMP) ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: $(VENV_STAMP) ## Unit tests (moto, network blocked)
	$(PY) -m pytest tests/unit --disable-socket -q

integration: setup ## Integration tests against DynamoDB Local
	$(PY) -m pytest tests/integration -q

infra-test: setup ## CDK assertion tests, cdk-nag and cfn-lint on the synthesized templates
	$(PY) -m pytest tests/infra -q

local-test: setup ## Local runtime contract tests and end-to-end tests over HTTP
	$(PY) -m pytest tests/local_runtime tests/e2e -q

web-test: setup $(CHROMIUM_STAMP) ## The web pages in headless Chromium against the local runtime (tests/web)
	$(PY) -m pytest tests/web -q

screenshots: setup $(CHROMIUM_STAMP) ## Refresh docs/screenshots/ (the pages the README shows)
	SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest tests/web/test_screenshots.py -q

.PHONY: fuzz fuzz-sample
fuzz: setup ## Generated requests from docs/api/*.json against the local runtime: 500+ per API, a few minutes (FUZZ_SEED=n repeats a run)
	FUZZ_PROFILE=full $(PY) -m pytest tests/fuzz -q

fuzz-sample: setup ## A small seeded sample of those generated requests (make test runs it)
	FUZZ_PROFILE=sample $(PY) -m pytest tests/fuzz -q

test: setup lint unit integration infra-test local-test web-test ## Lint, unit, integration, infrastructure, local runtime, end-to-end and browser tests (CI runs this, then make demo)
test: fuzz-sample
test: deploy-check

bench: setup ## Benchmarks and the cost model: .bench/results.json and docs/performance.md
	$(PY) -m bench

.PHONY: load
load: setup ## Load test with Locust against the local runtime (.load/report.html)
	$(PY) -m bench.load

up: setup ## Run the whole system locally on 127.0.0.1:3000 (PORT=... for another) until Ctrl-C
	$(PY) -m local_runtime --port $(PORT)

invoke: $(VENV_STAMP) ## Invoke one function of the running `make up` once: make invoke FN=orders/api EVENT=event.json (or - for stdin)
	$(PY) -m local_runtime.invoke $(FN) $(or $(EVENT),-)

reset: ## Clear the local runtime's data (tables, stream positions, failure destinations, logs); keys stay
	rm -rf .local/dynamodb .local/checkpoints.json .local/on-failure .local/logs

synth: setup ## Synthesize every stack into cdk.out/ (no AWS account; the first build downloads the layer's wheels)
	npx --no-install cdk synth --quiet --no-notices -c stage=$(STAGE)
	$(VENV)/bin/cfn-lint

# The stack each SERVICE names, for deploy and destroy.
STACK_account := ApiGatewayAccount
STACK_layer = Layer-$(STAGE)
STACK_orders = Orders-$(STAGE)
STACK_telemetry = Telemetry-$(STAGE)
STACK_web = Web-$(STAGE)
STACK = $(or $(STACK_$(SERVICE)),$(error SERVICE must be account, layer, orders, telemetry or web))

deploy: setup ## Deploy one stack: make deploy SERVICE=account|layer|orders|telemetry|web [STAGE=dev]
	npx --no-install cdk deploy "$(STACK)" --exclusively -c stage=$(STAGE) --require-approval broadening

seed: setup ## Load the product catalogue into a deployed orders stack (idempotent): make seed [STAGE=dev]
	PYTHONPATH=services/orders:shared/python $(PY) -m orders.logic.catalogue --stack Orders-$(STAGE)

destroy: setup ## Remove one stack: make destroy SERVICE=account|layer|orders|telemetry|web [STAGE=dev]
	npx --no-install cdk destroy "$(STACK)" --exclusively -c stage=$(STAGE)

.PHONY: env deploy-check
env: $(VENV_STAMP) ## The clients' export lines (API URLs and keys) for a deployed stage: make -s env STAGE=prod
	@$(PY) -m infra.env --stage $(STAGE)

deploy-check: setup ## docs/deploy.md's deployment, run with its commands against moto's server (no AWS account)
	$(PY) -m pytest tests/deploy -q
	$(PY) -m infra.deploy_check

demo: setup ## Run the end-to-end scenario and print its report (FAULTS=chaos: with injected faults)
	LOCAL_FAULTS='$(FAULTS)' $(PY) -m clients.demo

openapi: $(VENV_STAMP) ## Regenerate docs/api/*.json from the code (a test fails when they are stale)
	$(PY) -m infra.openapi

lock: ## Re-resolve constraints.txt from pyproject.toml
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[runtime,infra,dev]'
	{ echo '# Exact versions of every Python package (transitives included); regenerate with `make lock`.'; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^#'; } > constraints.txt
	rm -rf .lock-venv

clean: ## Remove generated files (keeps .venv and node_modules)
	rm -rf cdk.out build .bench .pytest_cache .mypy_cache .ruff_cache

# replicheck: everything a run needs is set up by these targets (venv, tools, binaries).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE ?= $(or $(REPLICHECK_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/replicheck)
AGE_VERSION := v1.3.2
AGE_DIR := $(CACHE)/age-$(AGE_VERSION)
HELM_VERSION := v3.19.0
HELM_DIR := $(CACHE)/helm-$(HELM_VERSION)
PROFILE ?= ci
PYTEST_ARGS ?=
# Tools that phone home for version checks are told not to.
export SOPS_DISABLE_VERSION_CHECK := 1
export CHAOSTOOLKIT_NO_VERSION_CHECK := 1
export REPLICHECK_CACHE := $(CACHE)
export PATH := $(CURDIR)/$(BIN):$(AGE_DIR):$(HELM_DIR):$(PATH)
export HYPOTHESIS_PROFILE := $(PROFILE)

.PHONY: help setup venv tools binaries gitops-tools eso age helm browser postgres nodes preflight test lint unit conformance suites properties chaos report bench mutation traceability \
        cluster-up cluster-down deploy-operator undeploy-operator lock clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: venv tools ## venv + all binaries (idempotent, cached)

venv: $(VENV)/.stamp ## project-local virtualenv from requirements.lock

$(VENV)/.stamp: requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python >= 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

tools: binaries age helm postgres nodes gitops-tools ## control-plane and node binaries, age, helm, OCI registry, Flux (Go module proxy), PostgreSQL and the node runtime (apt)

binaries: venv ## build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet once per machine (cached outside the clone)
	@$(BIN)/python -m replicheck.build_progress >/dev/null

gitops-tools: ## OCI registry, Flux source-controller, kustomize-controller and helm-controller (tools/<name>/go.mod; built once, cached)
	@for t in registry source-controller kustomize-controller helm-controller; do bash tools/build-tool.sh $$t >/dev/null; done

# External Secrets Operator (issue 26): heavy (every provider compiles: ~5 min cold on 2 cores), so it
# is built for the targets that run it, not by `make setup`/`make test`; progress counted in packages
eso: venv ## External Secrets Operator v0.16.2 (tools/external-secrets/go.mod; built once, cached)
	@$(BIN)/python -m replicheck.build_progress --tool external-secrets >/dev/null

age: $(AGE_DIR)/age

$(AGE_DIR)/age:
	@command -v go >/dev/null || { echo "error: Go is not installed; install Go >= 1.26 to build age"; exit 1; }
	@echo "building age $(AGE_VERSION) once for this machine (Go module proxy, about 1 min) into $(AGE_DIR)"
	@start=$$(date +%s); GOBIN=$(AGE_DIR) GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod go install \
	  filippo.io/age/cmd/age@$(AGE_VERSION) filippo.io/age/cmd/age-keygen@$(AGE_VERSION) \
	  && echo "  done: age in $$(( $$(date +%s) - start ))s"

helm: $(HELM_DIR)/helm

$(HELM_DIR)/helm:
	@command -v go >/dev/null || { echo "error: Go is not installed; install Go >= 1.26 to build helm"; exit 1; }
	@echo "building helm $(HELM_VERSION) once for this machine (Go module proxy, about 3 min) into $(HELM_DIR)"
	@start=$$(date +%s); GOBIN=$(HELM_DIR) GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod go install \
	  helm.sh/helm/v3/cmd/helm@$(HELM_VERSION) && echo "  done: helm in $$(( $$(date +%s) - start ))s"

CHROMIUM ?= /usr/bin/chromium
export REPLICHECK_CHROMIUM := $(CHROMIUM)
browser: ## Debian's chromium for the certification page's browser test (apt-get; CI runs as root on Debian)
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "error: $(CHROMIUM) is missing; run 'sudo apt-get install -y chromium' (or set CHROMIUM=/path/to/chromium)"; exit 1; fi; \
	  echo "installing Debian's chromium (apt-get) for the certification page test"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/tmp/replicheck-apt-chromium.log 2>&1 \
	    || { apt-get update -q >>/tmp/replicheck-apt-chromium.log 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >>/tmp/replicheck-apt-chromium.log 2>&1; } \
	    || { echo "error: apt-get install chromium failed; see /tmp/replicheck-apt-chromium.log"; exit 1; }; \
	fi

# The ConfigMirror tests run a real PostgreSQL server (Debian's `postgresql`). Installed with apt-get
# when missing; no default cluster is created (nothing may be left running), the harness runs its own.
postgres: ## PostgreSQL server binaries for the ConfigMirror tests (apt-get install postgresql when missing)
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null; then \
	  echo "PostgreSQL server not found: installing Debian's postgresql with apt-get"; \
	  command -v apt-get >/dev/null || { echo "error: no apt-get; install a PostgreSQL server (>= 15) and set REPLICHECK_PG_BIN to its bin directory"; exit 1; }; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO mkdir -p /etc/postgresql-common/createcluster.d; \
	  echo "create_main_cluster = false" | $$SUDO tee /etc/postgresql-common/createcluster.d/replicheck.conf >/dev/null; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	fi

# Real nodes (fixtures/clusters/nodes/) run Debian's containerd and runc; images are built from our
# Dockerfiles with buildah on a debootstrap base and pushed with skopeo. Installed with apt-get when
# missing, as root only: no service is enabled or started (no systemd here; each run starts its own).
NODE_PACKAGES := containerd runc containernetworking-plugins iproute2 buildah netavark debootstrap debian-archive-keyring skopeo
nodes: ## the node runtime and image tools (apt-get install $(NODE_PACKAGES) when missing; root only)
	@missing=$$(for p in $(NODE_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null; then echo "note: no apt-get; install $$missing for real nodes (tests needing Pods skip with that reason)"; exit 0; fi; \
	  if [ "$$(id -u)" != 0 ]; then echo "note: nodes need root; run 'sudo apt-get install -y $$missing' (tests needing Pods skip with that reason)"; exit 0; fi; \
	  echo "installing Debian's $$missing (apt-get) for the local nodes and image builds"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/tmp/replicheck-apt-nodes.log 2>&1 \
	    || { apt-get update -q >>/tmp/replicheck-apt-nodes.log 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >>/tmp/replicheck-apt-nodes.log 2>&1; }; } \
	    || { echo "error: apt-get install $$missing failed; see /tmp/replicheck-apt-nodes.log"; exit 1; }; \
	fi

lint: venv ## ruff, and the import contracts of ARCHITECTURE.md (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: setup browser lint ## set up and run the test suite (what CI runs)
	rm -rf reports/allure-results reports/records reports/chaos
	$(BIN)/pytest -n auto -m "not slow" --alluredir=reports/allure-results $(PYTEST_ARGS)

unit: venv age ## pure-logic unit tests only (no cluster)
	$(BIN)/pytest -m "not cluster" tests/unit suites/unit $(PYTEST_ARGS)

conformance: export REPLICHECK_MAKE_STARTED := $(shell date +%s)
conformance: setup eso ## the main job: preflight, every phase on ephemeral clusters, reports; exit 0 CERTIFIED, 1 NOT CERTIFIED, 2 NO VERDICT
	rm -rf reports/allure-results reports/records reports/chaos
	$(BIN)/python -m replicheck.conformance $(PYTEST_ARGS)

preflight: venv ## what the phases need (programs, PostgreSQL, disk, ports, Chromium for the page), checked in seconds
	$(BIN)/python -m fixtures.conformance.preflight $(PREFLIGHT)

report: venv ## Allure HTML (Allure 3 CLI from npm, single file) and the certification report from the last run
	-$(BIN)/python -m reports.build
	cd tools/allure && npm ci --no-audit --no-fund --silent && ./node_modules/.bin/allure generate ../../reports/allure-results
	@echo "reports/allure-report/index.html, reports/certification.{md,html,json}"

suites: setup ## conformance suites C1-C21 and bug regressions (auto-provisioned cluster)
	$(BIN)/pytest -n auto suites $(PYTEST_ARGS)

properties: setup ## Hypothesis properties (PROFILE=dev|ci|nightly)
	$(BIN)/pytest -n auto properties $(PYTEST_ARGS)

chaos: setup ## chaostoolkit experiments and runbook checks; journals in reports/chaos/
	$(BIN)/pytest chaos $(PYTEST_ARGS)

MUTANTS ?= tests/mutants
MUTATION_ARGS ?=
mutation: setup ## each $(MUTANTS)/*.patch through the conformance test set (likely, fast, slow); reports/mutation.json
	$(BIN)/python -m replicheck.mutation $(MUTANTS) $(MUTATION_ARGS)

traceability: venv ## contract items -> the tests that fail when they are violated (reports/traceability.md)
	$(BIN)/python -m reports.traceability

bench: setup eso ## measured figures: cluster start, propagation next to its floor (same writes by a minimal client), scale (BENCH_SCALE=0 skips)
	$(BIN)/python -m replicheck.bench.run

cluster-up: setup ## start a local cluster that outlives the command; prints export KUBECONFIG=...
	@$(BIN)/replicheck-cluster up

cluster-down: venv ## stop the cluster from cluster-up and remove its files
	@$(BIN)/replicheck-cluster down

deploy-operator: setup ## deploy a system (IMPLEMENTATION=name, default bundled) into the cluster from cluster-up
	@$(BIN)/replicheck-cluster deploy --implementation=$(or $(IMPLEMENTATION),bundled)

undeploy-operator: venv ## stop and remove what deploy-operator started (IMPLEMENTATION=name)
	@$(BIN)/replicheck-cluster undeploy --implementation=$(or $(IMPLEMENTATION),bundled)

lock: ## regenerate requirements.lock from requirements.in (needs network to PyPI)
	$(PYTHON) -m venv /tmp/replicheck-uv && /tmp/replicheck-uv/bin/pip install -q uv
	/tmp/replicheck-uv/bin/uv pip compile --python-version 3.11 --generate-hashes -q requirements.in -o requirements.lock

clean: ## remove the venv and generated reports (keeps the binary cache)
	rm -rf $(VENV) reports/allure-results reports/allure-report reports/records reports/chaos reports/*.json reports/*.md reports/*.html reports/*.png

# One entry point for people and CI. `make demo` and `make test` are all a
# newcomer needs; both create .venv and install the pinned set when missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLEET ?= include/fleets/demo.yaml
PLAN ?= include/rollouts/demo.yaml
PORT ?= 8080

.PHONY: venv demo test airflow lint clean browser

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@# patchflow and fleetsim themselves, editable: the commands, `python -m ...` anywhere, the Airflow UI plugin
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m patchflow demo --fleet "$(FLEET)" --plan "$(PLAN)"

# Headless Chromium for the Patch rollouts page test (Debian's chromium and chromium-driver):
# installed once, only where apt-get exists and we are root; otherwise that test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	      || echo "make browser: installing chromium failed; the browser test will skip"; \
	  else echo "make browser: chromium is not installed and cannot be here (needs apt-get as root); the browser test will skip"; fi; }

# One file per process at a time, handed out in tests/conftest.py's order (the minutes-long files
# first); without --no-loadscope-reorder xdist hands out the files with the most tests first instead.
# Three processes on two cores: the long files mostly wait on Airflow and fleetsim (the suite keeps
# about 1.5 cores busy), so a third process cut the wall time from 14.5 to 11 minutes.
test: $(STAMP) browser
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder

lint: $(STAMP)
	$(BIN)/python -m patchflow lint

airflow: $(STAMP)
	$(BIN)/python -m patchflow standalone --fleet "$(FLEET)" --port "$(PORT)"

# CeleryExecutor topology (PostgreSQL, Redis, 2 workers) started natively; rollout triggered through the REST API.
# make e2e-distributed FLEET=include/fleets/failing-dev.yaml EXPECT=blocked   checks the block instead
# make e2e-distributed THEN=include/fleets/failing-dev.yaml:blocked           both, on one topology
.PHONY: e2e-distributed
e2e-distributed: $(STAMP)
	$(BIN)/python -m patchflow e2e-distributed --fleet "$(FLEET)" --plan "$(PLAN)" $(if $(EXPECT),--expect "$(EXPECT)") $(if $(THEN),--then "$(THEN)")

clean:
	rm -rf .airflow reports .pytest_cache

# The two commands of the README, and nothing clever. Each sets up what it needs from
# scratch with nothing but python3 (3.10+) and the package registries.
PYTHON ?= python3
VENV := .venv
DEMO_VENV := .venv-demo
PYPATH := $(shell sh tools/python-path.sh)
TOX := $(VENV)/bin/tox
TOX_PARALLEL ?= 2

.PHONY: demo test lint typecheck bench docs clean

$(VENV)/.ready: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(DEMO_VENV)/.ready:
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --upgrade pip uv
	touch $@

## demo: the main job end to end on the bundled offline demo (analyze, create, run cold and warm)
demo: $(DEMO_VENV)/.ready
	$(DEMO_VENV)/bin/uv pip install --quiet --python $(DEMO_VENV)/bin/python --reinstall \
	    ./packages/poncho-spec[conda] ./packages/poncho-fetch ./packages/poncho-run \
	    ./packages/poncho-create ./packages/poncho-analyze ./packages/poncho ./packages/poncho-testing
	$(DEMO_VENV)/bin/python demo/run_demo.py

## test: lint and types, every package alone on Python 3.10 and the newest, then integration
test: $(VENV)/.ready
	$(VENV)/bin/nox -s lint typecheck
	rm -f .tox/junit-*.xml
	PATH="$(PYPATH)$$PATH" $(TOX) run-parallel --parallel $(TOX_PARALLEL) --parallel-no-spinner
	$(VENV)/bin/python tools/junit_summary.py .tox

lint: $(VENV)/.ready
	$(VENV)/bin/nox -s lint

typecheck: $(VENV)/.ready
	$(VENV)/bin/nox -s typecheck

bench: $(VENV)/.ready
	PATH="$(PYPATH)$$PATH" $(VENV)/bin/nox -s benchmarks

docs: $(VENV)/.ready
	$(VENV)/bin/nox -s docs

clean:
	rm -rf $(VENV) $(DEMO_VENV) .tox .nox envs demo-out

# The two commands of the README, and nothing clever. Each sets up what it needs from
# scratch with nothing but python3 (3.10+) and the package registries.
PYTHON ?= python3
VENV := .venv
DEMO_VENV := .venv-demo
PYPATH := $(shell sh tools/python-path.sh)
TOX := $(VENV)/bin/tox
TOX_PARALLEL ?= 2

.PHONY: demo test lint typecheck bench docs dist clean constraints

# Every install is pinned by constraints.txt (the test world); `make constraints` refreshes it.
$(VENV)/.ready: requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --constraint constraints.txt -r requirements-dev.txt uv
	touch $@

$(DEMO_VENV)/.ready: constraints.txt
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --constraint constraints.txt uv
	touch $@

## demo: the main job end to end on the bundled offline demo (analyze, create, run cold and warm)
demo: $(DEMO_VENV)/.ready
	$(DEMO_VENV)/bin/uv pip install --quiet --python $(DEMO_VENV)/bin/python --reinstall --constraint constraints.txt \
	    ./packages/poncho-core ./packages/poncho-spec[conda] ./packages/poncho-fetch ./packages/poncho-run \
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

## dist: a wheel and an sdist of every published distribution (twine-checked) and the
## standalone poncho_package_run, in dist/ (what .github/workflows/release.yml publishes)
dist: $(VENV)/.ready
	$(VENV)/bin/nox -s dist

## constraints: re-pin the test world to today's releases (commit the result on its own)
constraints: $(VENV)/.ready
	UV=$(VENV)/bin/uv sh tools/refresh-constraints.sh

clean:
	rm -rf $(VENV) $(DEMO_VENV) .tox .nox envs demo-out dist

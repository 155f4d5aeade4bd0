# scripthost: `make run` serves the examples, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .build/stamps

.PHONY: install run test lint typecheck examples bench bench-quick clean cassandra-up cassandra-down

install: $(STAMPS)/python $(STAMPS)/npm $(STAMPS)/chromium

$(STAMPS)/python: pyproject.toml sdk-py/pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e ./sdk-py
	@touch $@

$(STAMPS)/npm: sdk-js/package.json sdk-js/package-lock.json
	@mkdir -p $(STAMPS)
	cd sdk-js && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium for the console's browser test (Playwright drives it; it
# never downloads a browser of its own).
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
$(STAMPS)/chromium:
	@mkdir -p $(STAMPS)
	command -v chromium >/dev/null || $(SUDO) apt-get install -y -q chromium \
	  || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)
	@touch $@

# The shared runtimes the examples' bundles run on (built once per SDK version).
examples: install
	$(PY) -c "from host.build import runtime_component; print(runtime_component('js'), runtime_component('python'), sep='\n')"

run: install examples
	bash scripts/run_examples.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# A local Apache Cassandra node from Maven Central (scripts/cassandra.sh).
cassandra-up:
	bash scripts/cassandra.sh up

cassandra-down:
	bash scripts/cassandra.sh down

test: install lint cassandra-up
	$(VENV)/bin/pytest
	cd sdk-js && node --test test/

# Debian's wrk, the load generator of the side-by-side benchmark.
$(STAMPS)/wrk:
	@mkdir -p $(STAMPS)
	command -v wrk >/dev/null || $(SUDO) apt-get install -y -q wrk \
	  || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q wrk)
	@touch $@

bench: install examples $(STAMPS)/wrk
	$(PY) -m bench.sandbox_overhead
	$(PY) -m bench.runtime_overhead
	$(PY) -m bench.distinct_scripts --scripts 200 --components 3
	$(PY) -m bench.noisy_neighbour
	$(PY) -m bench.compare

bench-quick: install examples $(STAMPS)/wrk
	$(PY) -m bench.runtime_overhead --quick
	$(PY) -m bench.distinct_scripts --scripts 20 --components 2 --seconds 3 --name distinct_scripts-quick
	$(PY) -m bench.compare --quick

clean:
	rm -rf .build

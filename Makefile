# scripthost: `make run` serves the examples, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .build/stamps

.PHONY: install tools run test lint typecheck examples bench bench-quick bench-cluster clean \
	cassandra-up cassandra-down cassandra-cluster-up cassandra-cluster-down

install: $(STAMPS)/python $(STAMPS)/npm

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

# Programs the tests and benchmarks run, as COMMAND:DEBIAN-PACKAGE: Chromium
# for the console's browser test (Playwright drives it; it never downloads a
# browser of its own), wrk for the load of the noisy-neighbour test and the
# benchmarks, a JDK and Maven for the local Cassandra node, Node.js for the JS
# SDK. Checked on every run, without a stamp, so a tool removed since the last
# run is installed again.
TOOLS := chromium:chromium wrk:wrk java:openjdk-17-jre-headless mvn:maven node:nodejs
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
tools:
	@missing=""; for tool in $(TOOLS); do \
	  command -v "$${tool%%:*}" >/dev/null || missing="$$missing $${tool#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get install -y -q $$missing \
	    || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $$missing); \
	fi

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
cassandra-up: tools
	bash scripts/cassandra.sh up

cassandra-down:
	bash scripts/cassandra.sh down

# A local cluster: two data centres of three nodes on 127.0.0.11-16 (the
# cluster tests start it themselves; see README, "A fleet on Cassandra").
cassandra-cluster-up: install tools
	bash scripts/cassandra.sh cluster-up

cassandra-cluster-down:
	bash scripts/cassandra.sh cluster-down

# PYTEST_ARGS='-m "not cluster"' leaves out the tests on the six-node cluster.
test: install tools lint cassandra-up
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	cd sdk-js && npm test --silent

bench: install tools examples
	$(PY) -m bench.sandbox_overhead
	$(PY) -m bench.runtime_overhead
	$(PY) -m bench.distinct_scripts --scripts 200 --components 3
	$(PY) -m bench.noisy_neighbour
	$(PY) -m bench.compare
	$(PY) -m bench.compare --workers 1 4
	$(PY) -m bench.reuse_stalls
	$(PY) -m bench.dev_loop

bench-quick: install tools examples
	$(PY) -m bench.runtime_overhead --quick
	$(PY) -m bench.distinct_scripts --scripts 20 --components 2 --seconds 3 --name distinct_scripts-quick
	$(PY) -m bench.compare --quick
	$(PY) -m bench.dev_loop --edits 3 --name dev_loop-quick

# The registry on the local cluster against the single node (starts both).
bench-cluster: install tools
	$(PY) -m bench.cluster

clean:
	rm -rf .build

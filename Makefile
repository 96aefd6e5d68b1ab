# Two commands on a fresh machine: `make run` and `make test`. Every install step lives here.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 9000
# `make contract`: the deep contract run against a sandbox it starts (CONTRACT_PORT: free if empty).
CONTRACT_PORT     ?=
CONTRACT_EXAMPLES ?= 100
CONTRACT_ARGS     ?=
CONTRACT_REPORTS  ?= reports
# The tests run on every core, a module's tests on one worker (pytest-xdist); PARALLEL= runs
# them in one process.
PARALLEL ?= -n auto --dist loadfile

.PHONY: run test test-fast lint contract bench wrk prism bytecode clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mockyard needs Python >= 3.11 (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Byte-compile the sources up front, as pip does for an installed package: every start then
# reads .pyc files, even where PYTHONDONTWRITEBYTECODE stops Python writing them (≈ 80 ms of a
# cold start). Only changed files are compiled again; a stale .pyc is never used.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src handlers bench

run: $(STAMP) bytecode
	$(BIN)/mockyard serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src handlers tests bench
	$(BIN)/mypy

# Every tier, with the engine's line coverage measured (servers the tests start included),
# printed, and held at 90% or more.
test: $(STAMP) lint
	@rm -rf .coverage && mkdir -p .coverage
	$(BIN)/coverage run -m pytest $(PARALLEL)
	@$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

# The fast tier, for the edit-test loop: no load, crash or outage tests (about a minute).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not reliability" -q $(PARALLEL)

# The load generator is Debian's wrk. Installing it needs root and apt-get; otherwise say how.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing wrk (Debian package) for make bench"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }; \
	  fi; \
	  command -v wrk >/dev/null 2>&1 || { \
	    echo "make bench needs wrk, the HTTP load generator: run 'apt-get install wrk' as root" \
	         "(Debian/Ubuntu) or install it from your OS packages, then run make bench again." >&2; \
	    exit 1; }; }

# Prism 5.16, the mock server the big-spec starts are compared with: npm installs it into
# bench/.prism/ (git-ignored), never globally. npm comes with Node.js (Debian: apt-get install npm).
prism: $(STAMP)
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing npm (Debian package) for make bench"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; \
	  fi; }
	$(BIN)/python -m bench.prism install

# About eight minutes, loopback only: throughput, latency, cold start, workers, memory, contract,
# starts on big generated specs beside Prism.
# BENCH_ARGS passes options through, e.g. BENCH_ARGS="--duration 5 --no-contract".
bench: $(STAMP) wrk prism bytecode
	$(BIN)/python -m bench $(BENCH_ARGS)

# `make contract`: serve the sandbox on a loopback port, run every check with every phase against
# it, stop it. Reports land in reports/ (CONTRACT_REPORTS): contract.xml for CI, contract.html to
# read. It exits as the gate does: 0 passed, 1 a contract failure, 2 the run could not test.
# GNU make itself ends with 2 whenever a recipe fails, which would hide the gate's 1, so the gate
# runs while this file is read, and a 1 turns on make's question mode (-q), whose status for a
# target still to be made is 1. Hence `make contract` runs alone (`make -n contract` runs it too).
CONTRACT_RUN = mkdir -p $(CONTRACT_REPORTS); \
	port="$(CONTRACT_PORT)"; \
	if [ -z "$$port" ]; then port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); fi; \
	$(BIN)/mockyard serve --host 127.0.0.1 --port $$port > $(CONTRACT_REPORTS)/contract-sandbox.log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' INT TERM; \
	status=0; \
	$(BIN)/mockyard contract --base-url http://127.0.0.1:$$port --wait 60 \
		--max-examples $(CONTRACT_EXAMPLES) --junit $(CONTRACT_REPORTS)/contract.xml \
		--report $(CONTRACT_REPORTS)/contract.html $(CONTRACT_ARGS) || status=$$?; \
	kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; \
	exit $$status

ifneq ($(filter contract,$(MAKECMDGOALS)),)
ifneq ($(MAKECMDGOALS),contract)
$(error make contract runs alone, since its exit status is the gate's: run the other goals apart)
endif
CONTRACT_STATUS := $(shell $(MAKE) --no-print-directory $(STAMP) >&2 && ( $(CONTRACT_RUN) ) >&2; echo $$?)
ifeq ($(CONTRACT_STATUS),1)
MAKEFLAGS += -q
endif
endif

contract:
	@exit $(CONTRACT_STATUS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Pilnveide: `make run` starts everything locally, `make test` runs every check.
# Needs only make and Python 3.11, 3.12 or 3.13: uv is installed into .tools/ and pins everything
# from uv.lock.

# The first supported Python found: the one .venv/ already uses, then python3.13, python3.12,
# python3.11, python3 (each checked to be 3.11 to 3.13). `make PYTHON=/path/to/python` overrides.
SUPPORTED_PYTHON := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach candidate,.venv/bin/python python3.13 python3.12 python3.11 python3,\
  $(shell $(candidate) -c '$(SUPPORTED_PYTHON)' >/dev/null 2>&1 && echo $(candidate))))
endif
UV_VERSION := 0.9.5
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
ifneq ($(PYTHON),)
export UV_PYTHON := $(PYTHON)
endif
export UV_LINK_MODE := copy

.PHONY: run test lint typecheck pytest conformance sync bench clean help

# Runs a recipe's commands and prints how long they took: $(call timed,command).
timed = t0=$$(date +%s); $(1); rc=$$?; echo "[make] $@: $$(( $$(date +%s) - t0 )) s"; exit $$rc

help:
	@echo "make run    install, migrate, load the plan, start gateway + 3 services (Ctrl-C stops)"
	@echo "make test   install, ruff, mypy, import contracts, pytest (SQLite + PostgreSQL if reachable),"
	@echo "            then make conformance"
	@echo "make conformance  the ADL LRS conformance suite and a schemathesis run, through the gateway"
	@echo "make bench  run the benchmarks under bench/"

$(UV):
	@test -n "$(PYTHON)" || { echo "make: needs Python 3.11, 3.12 or 3.13 on the PATH (python3.13," \
	  "python3.12, python3.11 or python3), or make PYTHON=/path/to/python3.x" >&2; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

sync: $(UV)
	$(UV) sync --locked --quiet

run: sync
	$(UV) run --locked --no-sync python deploy/run_local.py

lint: sync
	@$(call timed,$(UV) run --no-sync ruff check . && $(UV) run --no-sync ruff format --check . \
		&& $(UV) run --no-sync lint-imports)

typecheck: sync
	@$(call timed,$(UV) run --no-sync mypy)

pytest: sync
	@$(call timed,$(UV) run --no-sync pytest $(PYTEST_ARGS))

# The whole system through the gateway: ADL LRS conformance suite (xAPI 1.0.3 and 2.0.0) and a
# bounded schemathesis run. CONFORMANCE_ARGS="--only adl" (or fuzz) runs one of them.
conformance: sync
	@$(call timed,$(UV) run --no-sync python tests/conformance/run.py $(CONFORMANCE_ARGS))

test: lint typecheck pytest conformance

bench: sync
	$(UV) run --no-sync python bench/run_all.py

clean:
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache

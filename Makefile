# ThirdRing — every target installs what it needs first (apt packages, venv, Asterisk root).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: install test lint unit demo serve sandbox-up sandbox-down clean bench soak

install: $(STAMP)
	@$(PY) -m telephony sandbox build >/dev/null

$(STAMP): pyproject.toml constraints.txt scripts/install-system-packages.sh
	scripts/install-system-packages.sh
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The whole suite: lint, types, pure core, store (SQLite + PostgreSQL), web, Chromium,
# and the real-Asterisk tests (PBX + world over SIP).
test: install lint
	$(VENV)/bin/pytest

# Only the fast tests without Asterisk or Chromium.
unit: $(STAMP)
	$(VENV)/bin/pytest tests/unit

demo: install
	$(PY) -m telephony demo

serve: $(STAMP)
	$(PY) -m telephony serve

# Benchmarks (issue 9): a table on stdout, bench/results/latest.json. `make bench ONLY=<name>`
# runs one; BENCH_CONCURRENCY=1,50 makes ring_deadline_precision quicker (default 1,50,200).
bench: install
	$(PY) -m bench.run $(if $(ONLY),--only $(ONLY))

# The soak (issue 9): SOAK_MINUTES (20) at SOAK_RATE calls/s (2), holds, open sockets;
# lost pops and recordings counted, memory sampled; bench/results/soak-latest.json.
soak: install
	$(PY) -m bench.soak

sandbox-up: install
	$(PY) -m telephony sandbox up

sandbox-down: $(STAMP)
	$(PY) -m telephony sandbox down

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

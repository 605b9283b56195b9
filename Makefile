# Referral Atlas — the two commands of the README's quick start:
#   make run    start the app on the demo data (http://localhost:8501)
#   make test   lint, format check and the whole test suite, browser tests included, on SQLite
#               and again on a throwaway PostgreSQL
# Both create or reuse .venv and install what they need from this repository's files.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint format bench assets chromium postgresql clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Referral Atlas needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(VENV)/.runtime $@

assets: $(VENV)/.runtime
	$(PY) -m components.assets

run: assets
	$(PY) -m streamlit run app.py --server.port $(PORT)

# The browser tests drive Debian's chromium (a browser cannot be downloaded here).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	else \
		echo "The browser tests need chromium on PATH: install it (Debian: sudo apt-get install chromium)" >&2; exit 1; \
	fi

# The suite runs a second time on a throwaway PostgreSQL cluster (tests/pg_cluster.py), which
# needs the server programs initdb and pg_ctl; Debian keeps them off PATH.
postgresql: $(VENV)/.dev
	@if $(PY) -c 'from tests.pg_cluster import find_bindir; find_bindir()' 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's PostgreSQL server programs for the PostgreSQL test run"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "The PostgreSQL test run needs initdb and pg_ctl: install them (Debian: sudo apt-get install postgresql)" >&2; exit 1; \
	fi

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: $(VENV)/.dev chromium postgresql assets lint
	$(PY) -m pytest
	REFERRAL_ATLAS_TEST_DB=postgresql $(PY) -m pytest

bench: $(VENV)/.dev assets
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) static/vendor .pytest_cache .ruff_cache

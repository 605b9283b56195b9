# Referral Atlas — the two commands of the README's quick start:
#   make run    start the app on the demo data (http://localhost:8501)
#   make test   lint, format check and the whole test suite, browser tests included
# Both create or reuse .venv and install what they need from this repository's files.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint format bench assets chromium clean

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

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: $(VENV)/.dev chromium assets lint
	$(PY) -m pytest

bench: $(VENV)/.dev assets
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) static/vendor .pytest_cache .ruff_cache

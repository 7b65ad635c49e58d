# iptcare — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: demo demo-reset test lint typecheck bench install browser clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (never a downloaded browser build).
browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: export IPTCARE_DEMO = 1
demo: $(STAMP)
	@mkdir -p var
	$(BIN)/iptcare migrate --noinput -v 0
	$(BIN)/iptcare demo
	@echo
	@$(BIN)/iptcare demo-logins
	@echo
	@echo "iptcare is at http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	$(BIN)/gunicorn config.wsgi --bind 127.0.0.1:$(PORT) --config config/gunicorn.conf.py \
	  --access-logfile -

demo-reset: export IPTCARE_DEMO = 1
demo-reset: $(STAMP)
	rm -f var/iptcare.sqlite3 var/iptcare.sqlite3-wal var/iptcare.sqlite3-shm
	$(MAKE) demo

test: $(STAMP) browser
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/*.sqlite3* var/static .pytest_cache .mypy_cache .ruff_cache

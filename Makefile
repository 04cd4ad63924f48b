# prakerja: two commands do all set-up on a fresh machine: `make run` and `make test`.
# Virtualenvs and caches live outside the clone (PRAKERJA_CACHE, default ~/.cache/prakerja), keyed
# by the hash of their lock file, so a fresh clone (CI) reuses them when warm.

SHELL := /bin/bash
export PRAKERJA_CACHE ?= $(HOME)/.cache/prakerja
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)/local
APPLICANTS ?= 100
PORT ?= 8000

APP_VENV = $$(scripts/venv.sh app requirements/app.lock)
SAM_VENV = $$(scripts/venv.sh sam requirements/sam.lock)

.PHONY: run test demo lint unit integration e2e infra sam-build bench-photo lock help

help:
	@echo "make run     - the local stack on http://127.0.0.1:$(PORT) (API, mailbox, clock, ministry)"
	@echo "make test    - the whole suite (lint, unit, integration, infra, end-to-end)"
	@echo "make demo    - APPLICANTS=$(APPLICANTS) synthetic applicants through every step; prints the funnel"
	@echo "make sam-build FN=<LogicalId> - sam build of one function (a check before shipping)"

run:
	@venv=$(APP_VENV) && exec $$venv/bin/python -m prakerja_local --port $(PORT)

demo:
	@venv=$(APP_VENV) && $$venv/bin/python -m prakerja_local.demo --start --applicants $(APPLICANTS)

lint:
	@venv=$(APP_VENV) && $$venv/bin/ruff check src functions local tests bench scripts

test: lint
	@venv=$(APP_VENV) && sam=$(SAM_VENV) && \
	  PRAKERJA_SAM_VENV=$$sam PRAKERJA_SAM_BUILD=1 $$venv/bin/python -m pytest -q -p no:cacheprovider \
	    tests/unit tests/infra tests/integration tests/e2e

unit integration e2e infra:
	@venv=$(APP_VENV) && sam=$(SAM_VENV) && \
	  PRAKERJA_SAM_VENV=$$sam $$venv/bin/python -m pytest -q -p no:cacheprovider tests/$@

sam-build:
	@sam=$(SAM_VENV) && PRAKERJA_SAM_VENV=$$sam $(APP_VENV)/bin/python scripts/sam_build_check.py $(FN)

bench-photo:
	@venv=$(APP_VENV) && $$venv/bin/python bench/photo.py

# Regenerate the pinned app lock from requirements/app.in (needs the package registry).
lock:
	@rm -rf /tmp/prakerja-lock && python3 -m venv /tmp/prakerja-lock && \
	  /tmp/prakerja-lock/bin/pip install -q -r requirements/app.in && \
	  { echo "# Generated: pip install -r requirements/app.in into a fresh Python 3.11 venv, then pip freeze."; \
	    echo "# Regenerate with: make lock"; /tmp/prakerja-lock/bin/pip freeze; } > requirements/app.lock

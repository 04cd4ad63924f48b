# prakerja: two commands do all set-up on a fresh machine: `make run` and `make test`.
# Virtualenvs and caches live outside the clone (PRAKERJA_CACHE, default ~/.cache/prakerja), keyed
# by the hash of their lock file, so a fresh clone (CI) reuses them when warm.

SHELL := /bin/bash
export PRAKERJA_CACHE ?= $(HOME)/.cache/prakerja
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)/local:$(CURDIR)/ops
APPLICANTS ?= 100
PORT ?= 8000

APP_VENV = $$(scripts/venv.sh app requirements/app.lock)
SAM_VENV = $$(scripts/venv.sh sam requirements/sam.lock)
CHECKOV_VENV = $$(scripts/venv.sh checkov requirements/checkov.lock)

.PHONY: ops run test demo fuzz lint unit integration e2e infra sam-build bench-photo bench-selection bench-nik bench-coldstart capacity rehearsal lock help deploy-web

help:
	@echo "make run     - the local stack on http://127.0.0.1:$(PORT) (API, mailbox, clock, ministry)"
	@echo "make test    - the whole suite (lint, unit, integration, infra, end-to-end)"
	@echo "make demo    - APPLICANTS=$(APPLICANTS) synthetic applicants through every step; prints the funnel"
	@echo "make fuzz    - schemathesis over docs/openapi.json against a local stack of its own; prints the counts"
	@echo "make rehearsal [USERS=.. DURATION=.. BASE_URL=..] - launch-day load (Locust) on the local stack, then proof nothing was lost"
	@echo "make sam-build FN=<LogicalId> - sam build of one function (a check before shipping)"
	@echo "make ops ARGS='--local http://127.0.0.1:$(PORT) funnel' - prakerja-ops (the operators' command)"
	@echo "make deploy-web [STACK=..] - upload web/ to the site bucket and invalidate CloudFront"

run:
	@venv=$(APP_VENV) && exec $$venv/bin/python -m prakerja_local --port $(PORT)

# prakerja-ops from the project's own virtualenv, e.g. make ops ARGS="--local http://127.0.0.1:8000 funnel"
ops:
	@venv=$(APP_VENV) && exec $$venv/bin/python -m prakerja_ops $(ARGS)

# BASE_URL=http://127.0.0.1:8000: against a running stack (make run) instead of a stack of its own
demo:
	@venv=$(APP_VENV) && $$venv/bin/python -m prakerja_local.demo $(if $(BASE_URL),--base-url $(BASE_URL),--start) \
	  --applicants $(APPLICANTS)

# schemathesis (its own venv, requirements/fuzz.lock) over every route of docs/openapi.json against a
# local stack of its own, signed in; FUZZ_EXAMPLES cases per operation, FUZZ_SEED. The last line is
# "fuzz: examples=<n> server_errors=<n> schema_violations=<n>". make test runs a bounded one (tests/e2e/test_fuzz.py).
FUZZ_EXAMPLES ?= 400
FUZZ_SEED ?= 2020
fuzz:
	@venv=$(APP_VENV) && fz=$$(scripts/venv.sh fuzz requirements/fuzz.lock) && \
	  PRAKERJA_FUZZ_VENV=$$fz $$venv/bin/python scripts/fuzz.py --max-examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED)

lint:
	@venv=$(APP_VENV) && $$venv/bin/ruff check src functions local tests bench scripts ops web/tools

test: lint
	@scripts/ensure-browser.sh
	@venv=$(APP_VENV) && sam=$(SAM_VENV) && ck=$(CHECKOV_VENV) && \
	  PRAKERJA_CHECKOV_VENV=$$ck PRAKERJA_SAM_VENV=$$sam PRAKERJA_SAM_BUILD=1 $$venv/bin/python -m pytest -q -p no:cacheprovider \
	    tests/unit tests/infra tests/integration tests/e2e

unit integration e2e infra:
	@[ "$@" != e2e ] || scripts/ensure-browser.sh
	@venv=$(APP_VENV) && sam=$(SAM_VENV) && ck=$(CHECKOV_VENV) && \
	  PRAKERJA_CHECKOV_VENV=$$ck PRAKERJA_SAM_VENV=$$sam $$venv/bin/python -m pytest -q -p no:cacheprovider tests/$@

sam-build:
	@sam=$(SAM_VENV) && PRAKERJA_SAM_VENV=$$sam $(APP_VENV)/bin/python scripts/sam_build_check.py $(FN)

bench-photo:
	@venv=$(APP_VENV) && $$venv/bin/python bench/photo.py

# A backlog of NIK checks through the real queue, pump and worker against the ministry simulator:
# first the harness's ceiling on this machine (the ministry unlimited), then a capacity of half of
# it (at most the ministry's 50 calls/s and 20 in flight): with a 60 s outage, then without.
# BACKLOG=N to set the backlog (default: 100 s at the chosen capacity).
BACKLOG ?=
bench-nik:
	@venv=$(APP_VENV) && $$venv/bin/python bench/nik_pipeline.py $(if $(BACKLOG),--backlog $(BACKLOG))

# The draw over 1, 3 and 6 million participants, and reading 50,000 members per shard count.
bench-selection:
	@venv=$(APP_VENV) && $$venv/bin/python bench/selection.py

# Cold start of every function (import + module-scope init, fresh process, .pyc present) against a
# naive FastAPI + Mangum + Powertools + boto3 baseline in the same run; RUNS rounds (default 7).
RUNS ?= 7
bench-coldstart:
	@venv=$(APP_VENV) && $$venv/bin/python bench/coldstart.py --runs $(RUNS)

# Measured cost per request (real handlers on moto), the launch-day plan and the cost per applicant:
# writes bench/capacity_measured.json, docs/capacity.md and the runbook's launch-day block.
capacity:
	@venv=$(APP_VENV) && PYTHONPATH=$(CURDIR)/src:$(CURDIR)/local:$(CURDIR)/ops:$(CURDIR) $$venv/bin/python bench/capacity.py

# Load rehearsal: USERS Locust users (default 20) walk the launch-day mix for DURATION seconds
# (default 120) against a local stack of its own (or BASE_URL=http://127.0.0.1:PORT, 127.0.0.1 only),
# then the queues drain and every sign-up, upload and biodata is checked for its email and verdict.
# Locust runs from its own venv (requirements/load.lock). Last line: rehearsal: requests=.. rps=..
USERS ?= 20
DURATION ?= 120
rehearsal:
	@venv=$(APP_VENV) && $$venv/bin/python bench/rehearsal.py --users $(USERS) --duration $(DURATION) \
	  $(if $(BASE_URL),--base-url $(BASE_URL))

# The web client (web/) to its bucket, then a CloudFront invalidation. Needs the aws CLI and
# credentials for the deployed stack (STACK, REGION: samconfig.toml's dev stack by default); pages
# and modules are revalidated on every load (no-cache), the region lists cached for a day.
STACK ?= prakerja-dev
REGION ?= ap-southeast-3
deploy-web:
	@set -euo pipefail; \
	  python3 web/tools/build_regions.py --check; \
	  out() { aws cloudformation describe-stacks --region $(REGION) --stack-name $(STACK) \
	    --query "Stacks[0].Outputs[?OutputKey=='$$1'].OutputValue" --output text; }; \
	  bucket=$$(out WebBucketName); dist=$$(out WebDistributionId); \
	  if [ -z "$$bucket" ] || [ "$$bucket" = None ]; then echo "stack $(STACK) has no WebBucketName output"; exit 1; fi; \
	  aws s3 sync web/ "s3://$$bucket/" --region $(REGION) --delete --exclude 'tools/*' --exclude 'data/*' \
	    --exclude '*.py' --cache-control 'no-cache'; \
	  aws s3 sync web/data/ "s3://$$bucket/data/" --region $(REGION) --delete \
	    --cache-control 'public, max-age=86400'; \
	  aws cloudfront create-invalidation --distribution-id "$$dist" --paths '/*' \
	    --query Invalidation.Id --output text; \
	  echo "web/ is live at $$(out WebUrl)"

# Regenerate the pinned app lock from requirements/app.in (needs the package registry).
lock:
	@rm -rf $(PRAKERJA_CACHE)/lock-venv && python3 -m venv $(PRAKERJA_CACHE)/lock-venv && \
	  $(PRAKERJA_CACHE)/lock-venv/bin/pip install -q -r requirements/app.in && \
	  { echo "# Generated: pip install -r requirements/app.in into a fresh Python 3.11 venv, then pip freeze."; \
	    echo "# Regenerate with: make lock"; $(PRAKERJA_CACHE)/lock-venv/bin/pip freeze; } > requirements/app.lock

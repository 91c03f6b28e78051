# Jiuzhu — one command to set up and serve, one to test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PORT
ASSET_STAMPS := web/static/vendor/.built web/static/build/.built

.PHONY: setup run test test-fast lint bench assets clean

setup: $(VENV)/.installed $(ASSET_STAMPS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# One build writes both: copies into web/static/vendor, our bundles (modeler, server-side bpmnlint) into
# web/static/build; it reruns when either is missing or a package or one of our sources changed.
$(ASSET_STAMPS) &: node_modules/.package-lock.json scripts/build-assets.mjs $(wildcard web/static/modeler/*)
	npm run --silent build
	touch $(ASSET_STAMPS)

assets: $(ASSET_STAMPS)

## Serve on 127.0.0.1:$(PORT) with SQLite and demo data (gunicorn + in-process worker).
run: setup
	$(BIN)/jiuzhu serve

## The whole suite (SQLite; set JIUZHU_TEST_DATABASE_URL for PostgreSQL).
test: setup
	$(BIN)/pytest -q

## Without the slow and browser tests.
test-fast: setup
	$(BIN)/pytest -q -m "not slow and not browser"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

## Benchmarks against the local PostgreSQL: throughput in its own database (BENCH_THROUGHPUT_DATABASE_URL, default
## jiuzhu_bench_tp, emptied each run); overdue reports over 1,000,000 tasks loaded once (BENCH_DATABASE_URL,
## default jiuzhu_bench).
bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules web/static/vendor web/static/build instance .pytest_cache

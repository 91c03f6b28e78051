# Jiuzhu — one command to set up and serve, one to test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PORT

.PHONY: setup run test test-fast lint bench assets clean

setup: $(VENV)/.installed web/static/vendor/.built

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

web/static/vendor/.built: node_modules/.package-lock.json scripts/build-assets.mjs
	npm run --silent build
	touch $@

assets: web/static/vendor/.built

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

## Benchmarks against PostgreSQL (BENCH_DATABASE_URL, default the local test database).
bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules web/static/vendor instance .pytest_cache

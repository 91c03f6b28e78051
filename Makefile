# Jiuzhu — one command to set up and serve, one to test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PORT
ASSET_STAMPS := web/static/vendor/.built web/static/build/.built

PIP := $(BIN)/pip --disable-pip-version-check
say = @printf '\n==> %s\n' $(1)

.PHONY: setup run test test-fast lint bench assets lock clean

## Everything `run` and `test` need: venv, Python packages from requirements.lock, npm packages, front-end bundles.
## Each step says what it does; pip and npm print their own progress (the first time takes a few minutes).
setup: $(VENV)/.installed $(ASSET_STAMPS)
	@echo "==> 安装完成：命令行工具为 $(BIN)/jiuzhu（见 docs/cli.md）"

$(VENV)/.installed: pyproject.toml requirements.lock
	$(call say,"[1/4] 创建 Python 虚拟环境 $(VENV)（$(PYTHON)）")
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(call say,"[2/4] 安装 Python 依赖（requirements.lock 中的固定版本；首次需下载，约 1–2 分钟）")
	$(PIP) install --progress-bar on -r requirements.lock
	$(PIP) install --no-deps -e .
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	$(call say,"[3/4] 安装前端 npm 依赖（npm ci，package-lock.json）")
	# form-js pulls in @carbon packages whose install scripts report usage to IBM unless told not to.
	IBM_TELEMETRY_DISABLED=true npm ci --no-audit --no-fund
	touch $@

# One build writes both: copies into web/static/vendor, our bundles (modeler, server-side bpmnlint) into
# web/static/build; it reruns when either is missing or a package or one of our sources changed.
$(ASSET_STAMPS) &: node_modules/.package-lock.json scripts/build-assets.mjs $(wildcard web/static/modeler/*)
	$(call say,"[4/4] 构建前端资源（bpmn-js 流程设计器、form-js 表单设计器、bpmnlint）")
	npm run --silent build
	touch $(ASSET_STAMPS)

assets: $(ASSET_STAMPS)

## Serve on 127.0.0.1:$(PORT) with SQLite and demo data (gunicorn + in-process worker).
run: setup
	$(call say,"启动：迁移数据库、部署流程目录、空库时写入演示数据，然后在 127.0.0.1:$(PORT) 提供服务")
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

## Benchmarks against the local PostgreSQL, every figure printed beside the floors measured in the same run (the
## in-process SpiffWorkflow floor and one PostgreSQL commit) and written to bench/results/<time>.json: HTTP throughput
## via `jiuzhu serve` (BENCH_THROUGHPUT_DATABASE_URL, default jiuzhu_bench_tp), statements per step, the 低保 flow,
## the timer sweep (each in its own database, emptied each run), overdue reports over 1,000,000 tasks loaded once
## (BENCH_DATABASE_URL, default jiuzhu_bench). See docs/benchmarks.md; one benchmark: .venv/bin/python -m bench NAME.
## The monthly payment run over 1,000,000 recipients (BENCH_PAYMENT_DATABASE_URL, default jiuzhu_bench_pay).
bench: setup
	$(BIN)/python -m bench

## Re-resolve the Python dependencies (newest versions pyproject.toml allows) in a throw-away venv and pin them in
## requirements.lock; then `make setup` installs them. Commit pyproject.toml and requirements.lock together.
lock:
	$(call say,"在临时虚拟环境中按 pyproject.toml 解析依赖并写入 requirements.lock")
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" --disable-pip-version-check install --upgrade pip; \
	"$$tmp/venv/bin/pip" --disable-pip-version-check install -e '.[dev]'; \
	{ echo "# Pinned versions of every Python package of jiuzhu, its dev extras included (transitive ones too)."; \
	  echo "# Installed by \`make setup\` (pip install -r requirements.lock, then pip install --no-deps -e .)."; \
	  echo "# Do not edit by hand: \`make lock\` regenerates it from pyproject.toml (see docs/development.md)."; \
	  echo "# Resolved with $$("$$tmp/venv/bin/python" -c 'import platform; print("Python", platform.python_version(), "on", platform.system(), platform.machine())')."; \
	  "$$tmp/venv/bin/pip" freeze --exclude-editable; } > requirements.lock.new; \
	mv requirements.lock.new requirements.lock
	@echo "==> requirements.lock 已更新；运行 make setup 安装，确认 make test lint 通过后与 pyproject.toml 一并提交"

clean:
	rm -rf $(VENV) node_modules web/static/vendor web/static/build instance .pytest_cache

"""Fixtures: one migrated database per test session (SQLite file, or PostgreSQL when JIUZHU_TEST_DATABASE_URL is
set), emptied and re-seeded before each test; the app on a simulated clock; a client and logged-in users."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.models import Base

START = datetime.fromisoformat("2026-03-02T09:00:00+08:00")  # a Monday with no holiday near
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("JIUZHU_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from web.app import create_app
    from web.extensions import db

    instance = tmp_path_factory.mktemp("instance")
    os.environ["JIUZHU_INSTANCE_PATH"] = str(instance)
    application = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "JIUZHU_CLOCK": "simulated",
        "JIUZHU_CLOCK_START": START.isoformat(),
        "SECRET_KEY": "test-secret",
        "JIUZHU_ENV": "development",
    })
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        from web.cli import upgrade_database

        upgrade_database()
    return application


def _empty_database(db) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def db(app):
    """An empty database with the demo data and the process catalog deployed.

    No app context stays pushed during the test: requests must each get their own (and their own `g`), so
    tests that read the database directly open one with `app.app_context()`.
    """
    from engine import clock as clock_module
    from web.cli import bpmn_dir, deploy_files
    from web.extensions import db as database
    from workflows.demo import seed

    with app.app_context():
        _empty_database(database)
        app.extensions["jiuzhu.engine"].forget_specs()
        from web.auth import forget_user
        from web.ui.notice import _recent_objections

        forget_user()
        _recent_objections.clear()  # per-address throttling must not carry over from another test
        clock_module.active().set(START)
        seed(database.session)
        assert deploy_files(sorted(bpmn_dir().glob("*.bpmn")), echo=lambda *_: None)
        database.session.remove()
    return database


@pytest.fixture
def engine(app, db):
    return app.extensions["jiuzhu.engine"]


class ApiClient:
    """A test client that logs in as a demo user and sends its bearer token."""

    def __init__(self, client, username: str | None):
        self.client = client
        self.username = username
        self.headers = {}
        if username:
            response = client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
            assert response.status_code == 200, response.get_json()
            self.headers = {"Authorization": f"Bearer {response.get_json()['token']}"}

    def _call(self, method, path, **kwargs):
        headers = dict(self.headers, **kwargs.pop("headers", {}))
        return getattr(self.client, method)(path if path.startswith("/") else f"/api/v1/{path}",
                                            headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self._call("get", path, **kwargs)

    def post(self, path, **kwargs):
        return self._call("post", path, **kwargs)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def login(app, db):
    """login('jd_heping') → an ApiClient for that demo user."""
    cache: dict[str, ApiClient] = {}

    def _login(username: str) -> ApiClient:
        if username not in cache:
            cache[username] = ApiClient(app.test_client(), username)
        return cache[username]

    return _login


# -- browser tests (Playwright driving Debian's chromium) -------------------------------------------------------
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("JIUZHU_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def live_server(app, db):
    """The test app served on a free localhost port in a thread, sharing the test database."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        # On CI (.ci/run installs chromium) a missing browser is a failure, never a silent skip.
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}")
        pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page at 1280×800 whose relative URLs point at the live server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, 'inbox') → test-artifacts/screenshots/inbox.png (kept as a CI artifact)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def _take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _take


def browser_login(page, username: str, password: str = "demo") -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()

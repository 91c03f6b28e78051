"""The application factory."""
from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, make_response, request, session
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import event, inspect
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms.validators import ValidationError

from engine.clock import SystemClock
from engine.errors import Forbidden
from workflows.roles import ROLES

from . import calendar_notice, errors
from .api import register as register_api
from .auth import SESSION_CLOCK, TooManyAttempts, load_identity
from .deadline_service import refresh_calendar
from .engine_setup import build_engine, install_clock, sync_simulated_clock
from .extensions import csrf, db, migrate
from .settings import from_environment
from .ui import register as register_ui
from .ui.common import page_user

MIGRATIONS = Path(__file__).parent / "migrations"


def _secret_key(app: Flask) -> str:
    """A key shared by every process of this installation, kept in the instance folder."""
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}")
        tmp.write_text(secrets.token_hex(32))
        os.replace(tmp, path) if not path.exists() else tmp.unlink()
    return path.read_text().strip()


def _database_url(app: Flask, configured: str | None) -> str:
    if configured:
        return configured
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'jiuzhu.db'}"


def _tune_sqlite(app: Flask) -> None:
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        # WAL lets readers run beside the one writer; the busy timeout makes writers queue instead of failing.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# Navigation entries: (endpoint, label, roles that see it; None = everyone logged in). Entries whose page is not
# registered are left out, so a page area can be added without touching the layout.
NAV = [
    ("inbox.index", "待办", None),
    ("cases_ui.index", "案件", None),
    ("register_ui.index", "保障台账", {"street_clerk", "street_reviewer", "district_inspector", "district_approver",
                                     "finance_officer", "supervisor", "admin"}),
    ("payments_ui.index", "资金发放", {"finance_officer", "district_approver", "supervisor", "admin"}),
    ("dashboard.index", "督办看板", {"supervisor", "district_approver", "district_inspector", "admin"}),
    ("aid_reports_ui.index", "救助信息共享", {"supervisor", "district_approver", "district_inspector", "agency_lead",
                                         "admin"}),
    ("modeler.index", "流程设计", {"process_designer", "admin"}),
    ("form_designer.index", "表单设计", {"process_designer", "admin"}),
    ("substitute_ui.show", "代理设置", None),
    ("api_docs.docs_page", "API 文档", None),
]


def _init_csrf(app: Flask) -> None:
    # Forms posted by a browser carry a CSRF token; the API (bearer tokens) and signed webhooks do not need one.
    csrf.init_app(app)
    for name, blueprint in app.blueprints.items():
        if name.startswith("api_") or name.startswith("webhooks"):
            csrf.exempt(blueprint)

    @app.before_request
    def _csrf_for_session_api_calls():
        # The API also accepts the login session (the modeler calls it from the page). A browser sends that cookie
        # on its own, so a session-authenticated write must carry the page's CSRF token; bearer tokens need none.
        if not (request.blueprint or "").startswith("api_") or request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if request.headers.get("Authorization", "").startswith("Bearer ") or not session.get("sid"):
            return
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except (CSRFError, ValidationError) as exc:
            raise Forbidden("缺少或无效的 CSRF 令牌，请刷新页面后重试") from exc


# Scripts only from our own origin (no inline script, no eval); styles too, plus inline `style` attributes: bpmn-js
# and Swagger UI set them on the elements they draw, and a few templates use them.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def cookie_settings(config) -> dict:
    """The session cookie carries only the server-side session id (and Flask-WTF's CSRF token); see web.auth."""
    https = str(config.get("JIUZHU_HTTPS") or "").strip().lower() in ("1", "true", "yes", "on")
    return {"SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax", "SESSION_COOKIE_SECURE": https,
            "PERMANENT_SESSION_LIFETIME": timedelta(hours=float(config.get("JIUZHU_TOKEN_HOURS") or 12))}


def _sessions_and_headers(app: Flask) -> None:
    app.config.update(cookie_settings(app.config))

    @app.before_request
    def _identity():
        if request.endpoint != "static":
            load_identity()

    @app.errorhandler(TooManyAttempts)
    def _too_many(exc: TooManyAttempts):
        response = make_response(errors.error_response(429, exc.code, str(exc)))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _template_globals(app: Flask) -> None:
    @app.context_processor
    def _inject():
        user = page_user()
        links = []
        if user is not None:
            links = [(endpoint, label) for endpoint, label, roles in NAV
                     if endpoint in app.view_functions and (roles is None or user.role in roles)]
        return {"current_user": user, "nav_links": links,
                "role_names": {k: r.name for k, r in ROLES.items()}}


def _trust_proxies(app: Flask) -> None:
    """Behind N reverse proxies (JIUZHU_PROXY_COUNT), take the client address and scheme from the last N
    X-Forwarded-* hops, so per-address throttling sees clients, not the proxy; 0 (the default) trusts none."""
    try:
        count = int(str(app.config.get("JIUZHU_PROXY_COUNT") or "0").strip())
    except ValueError:
        raise RuntimeError("JIUZHU_PROXY_COUNT must be a whole number (0 = no proxy)") from None
    if count < 0:
        raise RuntimeError("JIUZHU_PROXY_COUNT must be a whole number (0 = no proxy)")
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("JIUZHU_INSTANCE_PATH") or str(Path.cwd() / "instance"))
    settings = from_environment()
    app.config.update(settings)
    if test_config:
        app.config.update(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(app, app.config.get("DATABASE_URL"))
    _trust_proxies(app)
    # No pre-ping (a round trip per request); stale connections are recycled instead.
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_recycle": 1800})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    if not app.config.get("SECRET_KEY"):
        if app.config["JIUZHU_ENV"] == "production":
            raise RuntimeError("SECRET_KEY must be set when JIUZHU_ENV=production")
        app.config["SECRET_KEY"] = _secret_key(app)
    # Flask's own default is None (no limit), so `setdefault` would never apply ours.
    app.config["MAX_CONTENT_LENGTH"] = app.config.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # SpiffWorkflow logs every task state change at INFO: that is per-step noise (and cost), not operations news.
    logging.getLogger("spiff").setLevel(logging.WARNING)
    logging.getLogger("SpiffWorkflow").setLevel(logging.WARNING)
    # APScheduler announces every tick; our sweeps log what they actually did.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    import webhooks.models  # noqa: F401  (registers the webhook tables on the shared metadata)
    import workflows.models  # noqa: F401  (registers the domain tables on the shared metadata)

    with app.app_context():
        _tune_sqlite(app)
    install_clock(app)
    app.extensions[SESSION_CLOCK] = SystemClock()  # sessions and login throttling: real time (web.auth._now)
    build_engine(app)
    with app.app_context():
        # The admin's holiday overrides, if the schema exists yet (a fresh database is migrated after start-up) and
        # the database answers at all: an unreachable one is the CLI's and /health's to report, not a start-up crash.
        try:
            if inspect(db.engine).has_table("calendar_years"):
                refresh_calendar(app)
        except SQLAlchemyError:
            logging.getLogger(__name__).debug("calendar overrides not loaded", exc_info=True)
        db.session.rollback()

    @app.before_request
    def _sync_clock():
        sync_simulated_clock()

    errors.init_app(app)
    _sessions_and_headers(app)
    register_api(app)
    register_ui(app)
    _init_csrf(app)
    _template_globals(app)
    calendar_notice.init_app(app)
    # The CLI (web.cli) builds the app, not the other way round: its commands live on the `jiuzhu` group.
    return app

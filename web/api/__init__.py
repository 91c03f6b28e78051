"""REST API v1: one blueprint per resource under /api/v1."""
from __future__ import annotations

from flask import Flask, jsonify

from ..extensions import db
from . import (
    admin,
    auth,
    calendar,
    cases,
    definitions,
    docs,
    instances,
    meta,
    reports,
    tasks,
    time_limits,
    webhooks,
)


def register(app: Flask) -> None:
    for module in (auth, meta, definitions, instances, cases, tasks, reports, admin, docs, calendar, time_limits,
                   webhooks):
        app.register_blueprint(module.bp)
    app.register_blueprint(webhooks.admin_bp)

    @app.get("/health")
    def health():
        """Liveness and database reachability, without authentication."""
        try:
            db.session.execute(db.text("SELECT 1"))
            database = "ok"
        except Exception:  # noqa: BLE001 - reported, not raised: a health check must answer
            database = "unavailable"
        finally:
            db.session.rollback()
        status = 200 if database == "ok" else 503
        return jsonify({"status": "ok" if status == 200 else "degraded", "database": database}), status

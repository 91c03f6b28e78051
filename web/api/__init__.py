"""REST API v1: one blueprint per resource under /api/v1."""
from __future__ import annotations

from flask import Flask

from . import (
    admin,
    auth,
    calendar,
    cases,
    definitions,
    docs,
    instances,
    meta,
    payments,
    recipients,
    reports,
    reviews,
    tasks,
    time_limits,
    webhooks,
)


def register(app: Flask) -> None:
    for module in (auth, meta, definitions, instances, cases, tasks, reports, admin, docs, calendar, time_limits,
                   webhooks, recipients, payments, reviews):
        app.register_blueprint(module.bp)
    app.register_blueprint(webhooks.admin_bp)

    @app.get("/health")
    def health():
        """Liveness and database reachability, without authentication (also at /api/v1/health)."""
        return meta.health_answer()

"""REST API v1: one blueprint per resource under /api/v1."""
from __future__ import annotations

from flask import Flask

from . import (
    admin,
    aid_reports,
    auth,
    calendar,
    cases,
    complaints,
    definitions,
    docs,
    forms,
    instances,
    linshi,
    me,
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
    app.register_blueprint(me.bp)
    app.register_blueprint(aid_reports.bp)
    app.register_blueprint(complaints.bp)
    app.register_blueprint(linshi.bp)
    app.register_blueprint(forms.bp)

    @app.get("/health")
    def health():
        """Liveness and database reachability, without authentication (also at /api/v1/health)."""
        return meta.health_answer()

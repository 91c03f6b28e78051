"""The app's deadline service (engine.deadlines with the domain's escalation chain) and calendar freshness.

Calendar overrides are edited through the API in one process; every other process (gunicorn workers, `jiuzhu
worker`) notices within seconds: the sweeps re-read the override table on every tick and web requests at most
every `CALENDAR_CHECK_SECONDS`.
"""
from __future__ import annotations

import time

from flask import Flask, current_app
from sqlalchemy import select

from engine.calendar import BusinessCalendar
from engine.deadlines import Deadlines
from engine.models import CalendarOverride
from workflows import escalation

from .extensions import db

CALENDAR_CHECK_SECONDS = 15.0


def deadlines(app: Flask | None = None) -> Deadlines:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    engine = app.extensions["jiuzhu.engine"]
    service = app.extensions.get("jiuzhu.deadlines")
    if service is None or service.engine is not engine:
        period = int(app.config.get("JIUZHU_ESCALATION_WORKING_DAYS") or escalation.DEFAULT_REPEAT_AFTER_WORKING_DAYS)
        service = app.extensions["jiuzhu.deadlines"] = Deadlines(engine, escalation.policy(period))
    return service


def refresh_calendar(app: Flask | None = None, *, force: bool = True) -> bool:
    """Rebuild the engine's calendar if the override table changed; returns whether it did.

    Without `force`, checks at most every CALENDAR_CHECK_SECONDS (a monotonic timer of this process, not domain
    time)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.setdefault("jiuzhu.calendar_state", {"checked": 0.0, "fingerprint": None})
    if not force and time.monotonic() - state["checked"] < CALENDAR_CHECK_SECONDS:
        return False
    state["checked"] = time.monotonic()
    rows = tuple(db.session.execute(
        select(CalendarOverride.day, CalendarOverride.is_workday).order_by(CalendarOverride.day)).all())
    fingerprint = tuple((day, bool(workday)) for day, workday in rows)
    if fingerprint == state["fingerprint"]:
        return False
    state["fingerprint"] = fingerprint
    app.extensions["jiuzhu.engine"].calendar = BusinessCalendar(dict(fingerprint))
    return True

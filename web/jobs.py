"""Background sweeps and the APScheduler that runs them (DESIGN decision 5).

Each sweep is one idempotent function that claims its rows itself; running two workers side by side is safe.
"""
from __future__ import annotations

import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app

from webhooks.outbound import deliver_due

from .deadline_service import deadlines, refresh_calendar
from .engine_setup import sync_simulated_clock
from .extensions import db

log = logging.getLogger(__name__)


def sweep_timers() -> int:
    return current_app.extensions["jiuzhu.engine"].sweep_timers()


def sweep_deadlines() -> int:
    """Reminders, overdue marks and escalations, whole-instance limits (engine.deadlines), on a fresh calendar."""
    refresh_calendar()
    service = deadlines()
    return sum(service.sweep(service.engine.now()).values())


def sweep_outbox() -> int:
    """Deliver due outbox events to the webhook subscribers (signed, retried with backoff)."""
    return deliver_due(db.session, clock=current_app.extensions["jiuzhu.engine"].now)


SWEEPS = {
    "timers": sweep_timers,
    "deadlines": sweep_deadlines,
    "outbox": sweep_outbox,
}


def run_due_sweeps() -> dict[str, int]:
    """Run every sweep once, in order; a failing sweep is logged and the others still run."""
    results = {}
    for name, sweep in SWEEPS.items():
        try:
            results[name] = sweep()
        except Exception:
            log.exception("sweep %s failed", name)
            db.session.rollback()
            results[name] = -1
    return results


def start_scheduler(app: Flask, *, seconds: int | None = None) -> BackgroundScheduler:
    interval = seconds or int(app.config["JIUZHU_SWEEP_SECONDS"])
    lock = threading.Lock()

    def tick():
        if not lock.acquire(blocking=False):
            return  # the previous tick is still running
        try:
            with app.app_context():
                sync_simulated_clock()
                handled = run_due_sweeps()
                if any(v for v in handled.values()):
                    log.info("sweeps: %s", handled)
                db.session.remove()
        finally:
            lock.release()

    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(tick, "interval", seconds=interval, id="sweeps", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler

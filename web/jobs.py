"""Background sweeps and the APScheduler that runs them (DESIGN decision 5).

Each sweep is one idempotent function that claims its rows itself; running two workers side by side is safe.

Shutting down (SIGTERM to `jiuzhu worker` or `jiuzhu serve`) sets the scheduler's stop event; every sweep checks it
between items or batches and returns, so the process exits within one step instead of finishing a long sweep —
whatever it left is due still and the next worker's sweep takes it.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app

from webhooks.outbound import deliver_due
from workflows.register.reviews import sweep_due_reviews
from workflows.register.run_deadlines import sweep_run_deadlines

from .deadline_service import deadlines, refresh_calendar
from .engine_setup import sync_simulated_clock
from .extensions import db

log = logging.getLogger(__name__)


OUTBOX_BATCH = 20
OUTBOX_LIMIT = 200


def _never() -> bool:
    return False


TIMER_BATCH = 500
TIMER_LIMIT = 5000


def sweep_timers(should_stop: Callable[[], bool] = _never) -> int:
    """Due timers a batch at a time; while a batch fires something more may be waiting (a morning's 公示 all ending
    at once), so the next batch follows at once rather than a tick later — up to TIMER_LIMIT fires, then the other
    sweeps get their turn."""
    engine = current_app.extensions["jiuzhu.engine"]
    handled = 0
    while handled < TIMER_LIMIT and not should_stop():
        done = engine.sweep_timers(limit=TIMER_BATCH, should_stop=should_stop)
        handled += done
        if not done:
            break
    return handled


def sweep_deadlines(should_stop: Callable[[], bool] = _never) -> int:
    """Reminders, overdue marks and escalations, whole-instance limits (engine.deadlines), on a fresh calendar."""
    refresh_calendar()
    service = deadlines()
    return sum(service.sweep(service.engine.now(), should_stop=should_stop).values())


def sweep_outbox(should_stop: Callable[[], bool] = _never) -> int:
    """Deliver due outbox events to the webhook subscribers (signed, retried with backoff), a batch at a time."""
    handled = 0
    while handled < OUTBOX_LIMIT and not should_stop():
        done = deliver_due(db.session, clock=current_app.extensions["jiuzhu.engine"].now, limit=OUTBOX_BATCH)
        handled += done
        if done < OUTBOX_BATCH:
            break
    return handled


def sweep_reviews(should_stop: Callable[[], bool] = _never) -> int:
    """Periodic reviews coming due and gradual exits ending (workflows.register.reviews)."""
    engine = current_app.extensions["jiuzhu.engine"]
    return sweep_due_reviews(db.session, engine, engine.now(), should_stop)


def sweep_payment_runs(should_stop: Callable[[], bool] = _never) -> int:
    """Payment runs not confirmed by their due date (before the 10th): reminder, overdue, escalation."""
    refresh_calendar()
    engine = current_app.extensions["jiuzhu.engine"]
    return sweep_run_deadlines(db.session, engine.calendar, engine.now(), should_stop=should_stop)


SWEEPS = {
    "timers": sweep_timers,
    "deadlines": sweep_deadlines,
    "outbox": sweep_outbox,
    "payment_runs": sweep_payment_runs,
    "reviews": sweep_reviews,
}


def run_due_sweeps(should_stop: Callable[[], bool] = _never) -> dict[str, int]:
    """Run every sweep once, in order; a failing sweep is logged and the others still run."""
    results = {}
    for name, sweep in SWEEPS.items():
        if should_stop():
            break
        try:
            results[name] = sweep(should_stop)
        except Exception:
            log.exception("sweep %s failed", name)
            db.session.rollback()
            results[name] = -1
    return results


class SweepScheduler(BackgroundScheduler):
    """The scheduler of the sweeps; `shutdown` first tells a running sweep to stop (see the module doc)."""

    def __init__(self, **options):
        super().__init__(**options)
        self.stopping = threading.Event()

    def shutdown(self, wait: bool = True) -> None:
        self.stopping.set()
        super().shutdown(wait=wait)


def start_scheduler(app: Flask, *, seconds: int | None = None) -> SweepScheduler:
    interval = seconds or int(app.config["JIUZHU_SWEEP_SECONDS"])
    lock = threading.Lock()
    scheduler = SweepScheduler(daemon=True)
    stopping = scheduler.stopping

    def tick():
        if stopping.is_set() or not lock.acquire(blocking=False):
            return  # shutting down, or the previous tick is still running
        try:
            with app.app_context():
                sync_simulated_clock()
                handled = run_due_sweeps(stopping.is_set)
                if any(v for v in handled.values()):
                    log.info("sweeps: %s", handled)
                db.session.remove()
        finally:
            lock.release()

    scheduler.add_job(tick, "interval", seconds=interval, id="sweeps", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler

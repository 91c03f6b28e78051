"""One simulated clock for every process: the instant lives in the database from the first look on."""
from __future__ import annotations

from datetime import datetime, timedelta

from engine import clock as clock_module


def test_shared_clock__a_second_process_adopts_the_first_ones_start(app, db):
    from engine.models import ClockState
    from web.extensions import db as database

    original = clock_module.active()
    first = clock_module.SimulatedClock(datetime.fromisoformat("2026-03-02T09:00:00+08:00"))
    second = clock_module.SimulatedClock(datetime.fromisoformat("2026-03-02T09:00:05+08:00"))
    try:
        with app.app_context():
            database.session.query(ClockState).delete()
            database.session.commit()
            clock_module.install(first)
            assert clock_module.sync_with_database(database.session) == first.now()
            assert database.session.get(ClockState, 1) is not None  # stored before any advance
            # Another worker, booted five seconds later, takes the shared instant rather than its own.
            clock_module.install(second)
            assert clock_module.sync_with_database(database.session) == first.now()
            assert second.now() == first.now()
            # An advance on one moves the row; the other follows at its next request.
            after = clock_module.advance_in_database(database.session, timedelta(days=8))
            clock_module.install(first)
            assert clock_module.sync_with_database(database.session) == after
            assert first.now() == after
    finally:
        clock_module.install(original)

"""The single source of time (DESIGN decision 3).

`SystemClock` reads the real time; `SimulatedClock` starts at a given instant and only moves when told to.
SpiffWorkflow's timer module calls `datetime.now(timezone.utc)` itself, so `install_in_spiff` swaps that module's
`datetime` name for a subclass whose `now()` asks the active clock.
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .models import ClockState

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    mode = "abstract"

    def now(self) -> datetime:  # pragma: no cover - interface
        raise NotImplementedError

    def advance(self, delta: timedelta) -> datetime:
        raise RuntimeError("only a simulated clock can be moved")


class SystemClock(Clock):
    mode = "system"

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock(Clock):
    """Time that stands still until advanced. Several processes share it through the database (`sync_with_database`
    at the start of every request and sweep, `advance_in_database` to move it) or through `store`."""

    mode = "simulated"

    def __init__(self, start: datetime, store=None):
        if start.tzinfo is None:
            raise ValueError("a simulated clock needs an aware start instant")
        self._lock = threading.Lock()
        self._offset_now = start.astimezone(UTC)
        # `store` persists the instant so that web workers and the background worker agree on it.
        self._store = store
        # False while the instant is only this process's start value: then the shared instant wins outright.
        self.moved = False

    def adopt(self, instant: datetime) -> datetime:
        """Take the shared instant: always while this clock was never moved here, afterwards only a later one
        (time never runs backwards in a process that moved it, e.g. a test advancing it in-process)."""
        with self._lock:
            instant = instant.astimezone(UTC)
            if not self.moved or instant > self._offset_now:
                self._offset_now = instant
            return self._offset_now

    def now(self) -> datetime:
        if self._store is not None:
            stored = self._store.load()
            if stored is not None:
                return stored
        with self._lock:
            return self._offset_now

    def set(self, instant: datetime) -> datetime:
        with self._lock:
            self.moved = True
            self._offset_now = instant.astimezone(UTC)
            if self._store is not None:
                self._store.save(self._offset_now)
            return self._offset_now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        return self.set(self.now() + delta)


_active: Clock = SystemClock()


def active() -> Clock:
    return _active


def now() -> datetime:
    return _active.now()


def install(clock: Clock) -> Clock:
    """Make `clock` the process-wide time source, SpiffWorkflow's timers included."""
    global _active
    _active = clock
    install_in_spiff()
    return clock


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        current = _active.now()
        return current.astimezone(tz) if tz is not None else current.astimezone(SHANGHAI).replace(tzinfo=None)


def install_in_spiff() -> None:
    spiff_timer.datetime = _ClockDatetime  # type: ignore[attr-defined,misc]


# -- one simulated clock for every process -----------------------------------------------------------------------
# Web workers, the background worker and the CLI are separate processes, each with its own SimulatedClock. The
# instant they share is the one row of `clock_state`, written from the start: the first process to look stores its
# start instant (JIUZHU_CLOCK_START, or its boot time), every other adopts it, and an advance moves the row under a
# row lock. Each request and each sweep begins with `sync_with_database`, so a claim on one worker and the completion
# on another can never be stamped out of order.

def sync_with_database(session) -> datetime | None:
    """Adopt (or, when there is none yet, store) the shared simulated instant; None on a system clock.

    Commits only when it creates the row (at the start of a request, before anything else is in the session)."""
    clock = active()
    if not isinstance(clock, SimulatedClock):
        return None
    state = session.get(ClockState, 1)
    if state is None:
        try:
            session.add(ClockState(id=1, now=clock.now()))
            session.commit()
        except IntegrityError:  # another process stored its instant first: take that one
            session.rollback()
        state = session.get(ClockState, 1)
        if state is None:  # pragma: no cover - the row was deleted in between
            return clock.now()
    return clock.adopt(state.now)


def advance_in_database(session, delta: timedelta) -> datetime:
    """Move the shared simulated instant by `delta` (locking the row, so two advances add up) and commit."""
    clock = active()
    if not isinstance(clock, SimulatedClock):
        raise RuntimeError("only a simulated clock can be moved")
    sync_with_database(session)
    state = session.scalars(select(ClockState).where(ClockState.id == 1).with_for_update()).one()
    clock.adopt(state.now)
    now = clock.advance(delta)
    state.now = now
    session.commit()
    return now

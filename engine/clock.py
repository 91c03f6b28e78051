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
    """Time that stands still until advanced. Several processes share it through `store` (see web.clockstore)."""

    mode = "simulated"

    def __init__(self, start: datetime, store=None):
        if start.tzinfo is None:
            raise ValueError("a simulated clock needs an aware start instant")
        self._lock = threading.Lock()
        self._offset_now = start.astimezone(UTC)
        # `store` persists the instant so that web workers and the background worker agree on it.
        self._store = store

    def now(self) -> datetime:
        if self._store is not None:
            stored = self._store.load()
            if stored is not None:
                return stored
        with self._lock:
            return self._offset_now

    def set(self, instant: datetime) -> datetime:
        with self._lock:
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

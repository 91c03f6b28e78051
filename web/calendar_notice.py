"""`calendar_notice` for the pages: Chinese warnings when the holiday calendar does not cover this year or next.

A context processor (registered by create_app) so that a page template only has to show the list — the supervisors'
dashboard does, as a banner. It is computed lazily: pages that never read it cost nothing.
"""
from __future__ import annotations

from datetime import date

from flask import Flask, current_app

from engine.clock import SHANGHAI


class CalendarNotice:
    """The warnings for this year and next, computed on first use (iteration, truth test, len)."""

    def __init__(self):
        self._lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = coverage_warnings()
        return self._lines

    def __iter__(self):
        return iter(self.lines)

    def __bool__(self) -> bool:
        return bool(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def coverage_warnings(today: date | None = None) -> list[str]:
    """Warnings for the years from this one to the next that the calendar does not cover (empty when all are)."""
    engine = current_app.extensions.get("jiuzhu.engine")
    if engine is None:
        return []
    today = today or engine.now().astimezone(SHANGHAI).date()
    return engine.calendar.coverage_warnings(date(today.year, 1, 1), date(today.year + 1, 12, 31))


def init_app(app: Flask) -> None:
    @app.context_processor
    def _calendar_notice():
        return {"calendar_notice": CalendarNotice()}

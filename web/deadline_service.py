"""The app's deadline service (engine.deadlines with the domain's escalation chain) and calendar freshness.

Calendar overrides are edited through the API in one process; every other process (gunicorn workers, `jiuzhu
worker`) notices within seconds: the sweeps re-read the override table on every tick and web requests at most
every `CALENDAR_CHECK_SECONDS`. The years an admin imported (calendar_years) travel with the overrides: the
calendar counts them as covered.
"""
from __future__ import annotations

import time
from datetime import date, datetime

from flask import Flask, current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.calendar import BusinessCalendar, YearArrangement
from engine.deadlines import Deadlines
from engine.models import CalendarOverride, CalendarYear
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
    years = tuple(db.session.scalars(select(CalendarYear.year).order_by(CalendarYear.year)).all())
    days = tuple((day, bool(workday)) for day, workday in rows)
    fingerprint = (days, years)
    if fingerprint == state["fingerprint"]:
        return False
    state["fingerprint"] = fingerprint
    app.extensions["jiuzhu.engine"].calendar = BusinessCalendar(dict(days), covered_years=years)
    return True


def import_year(session: Session, arrangement: YearArrangement, *, now: datetime, actor: str | None,
                note: str | None = None) -> CalendarYear:
    """Store a year's official arrangement: replace that year's overrides and mark the year covered (no commit)."""
    year = arrangement.year
    session.execute(delete(CalendarOverride).where(CalendarOverride.day >= date(year, 1, 1),
                                                   CalendarOverride.day <= date(year, 12, 31)))
    session.add_all(CalendarOverride(day=day, is_workday=workday, note=arrangement.notes.get(day))
                    for day, workday in sorted(arrangement.days.items()))
    row = session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, days=0, imported_at=now)
        session.add(row)
    row.days, row.imported_at, row.imported_by, row.note = len(arrangement.days), now, actor, note
    return row


def year_status(calendar: BusinessCalendar, session: Session, years) -> list[dict]:
    """Per year: covered or not, where its arrangement comes from, how many override days it has."""
    imported = {row.year: row for row in session.scalars(select(CalendarYear))}
    overrides = session.execute(select(CalendarOverride.day)).scalars().all()
    per_year: dict[int, int] = {}
    for day in overrides:
        per_year[day.year] = per_year.get(day.year, 0) + 1
    items = []
    for year in years:
        row = imported.get(year)
        items.append({"year": year, "covered": calendar.covers(year), "source": calendar.coverage(year),
                      "override_days": per_year.get(year, 0),
                      "imported_at": row.imported_at.isoformat() if row else None,
                      "imported_by": row.imported_by if row else None})
    return items

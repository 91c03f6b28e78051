"""The business calendar: admin overrides (holidays and make-up workdays for years the library does not cover, or
local decisions) and working-day arithmetic for clients.

An override changes deadlines computed from then on; deadlines already computed stay as they are. Other processes
pick the change up within seconds (web.deadlines.refresh_calendar).
"""
from __future__ import annotations

import logging
from datetime import date, datetime

from flask import Blueprint, jsonify
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from engine.calendar import BusinessCalendar
from engine.clock import SHANGHAI
from engine.errors import InvalidInput, NotFound
from engine.models import CalendarOverride

from ..auth import current_user, roles_required
from ..deadlines import refresh_calendar
from ..extensions import db
from .common import API_PREFIX, doc, engine, json_body, load, query

bp = Blueprint("api_calendar", __name__, url_prefix=f"{API_PREFIX}/calendar")
log = logging.getLogger(__name__)


@bp.before_app_request
def _fresh_calendar():
    # Another process may have changed the overrides: look at most every few seconds. A database that cannot answer
    # (not migrated yet, restarting) keeps the calendar it has; the request goes on.
    try:
        refresh_calendar(force=False)
    except SQLAlchemyError:
        log.warning("could not check the calendar overrides", exc_info=True)
        db.session.rollback()


class OverrideQuery(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=1990, max=2200))


class OverrideBody(Schema):
    is_workday = fields.Boolean(required=True, metadata={"description": "true: a make-up workday (调休上班); "
                                                                        "false: a day off (holiday)"})
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class WorkingDaysQuery(Schema):
    start = fields.AwareDateTime(load_default=None, default_timezone=SHANGHAI,
                                 metadata={"description": "ISO instant; default now"})
    days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000),
                          metadata={"description": "the deadline for 'within days working days of start'"})
    end = fields.AwareDateTime(load_default=None, default_timezone=SHANGHAI,
                               metadata={"description": "count the working days from start to end"})

    @validates_schema
    def _one_question(self, data, **kwargs):
        if (data.get("days") is None) == (data.get("end") is None):
            raise ValidationError("须给出 days（计算期限）或 end（计算工作日数）之一", "days")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("日期格式须为 YYYY-MM-DD", {"day": ["日期格式须为 YYYY-MM-DD"]}) from exc


def _item(row: CalendarOverride) -> dict:
    return {"day": row.day.isoformat(), "is_workday": row.is_workday, "note": row.note}


@bp.get("/overrides")
@doc(params=OverrideQuery, tag="calendar")
def overrides():
    """Admin overrides of the working-day calendar, and the years the official holiday table covers."""
    current_user()
    q = query(OverrideQuery())
    statement = select(CalendarOverride).order_by(CalendarOverride.day)
    if q["year"]:
        statement = statement.where(CalendarOverride.day >= date(q["year"], 1, 1),
                                    CalendarOverride.day <= date(q["year"], 12, 31))
    rows = db.session.scalars(statement).all()
    year = engine().now().astimezone(SHANGHAI).year
    calendar = BusinessCalendar()
    covered = [y for y in range(year - 1, year + 3) if calendar.covers(y)]
    return jsonify({"items": [_item(r) for r in rows],
                    "official_years": covered,
                    "uncovered_years": [y for y in range(year - 1, year + 3) if y not in covered]})


@bp.put("/overrides/<day>")
@roles_required("admin")
@doc(body=OverrideBody, tag="calendar")
def put_override(day: str):
    """Make a day a holiday or a make-up workday (overrides the official arrangement and the weekday rule)."""
    when = _day(day)
    body = load(OverrideBody(), json_body())
    row = db.session.get(CalendarOverride, when)
    if row is None:
        row = CalendarOverride(day=when, is_workday=body["is_workday"], note=body["note"])
        db.session.add(row)
    else:
        row.is_workday, row.note = body["is_workday"], body["note"]
    db.session.commit()
    refresh_calendar()
    return jsonify(_item(row))


@bp.delete("/overrides/<day>")
@roles_required("admin")
@doc(tag="calendar")
def delete_override(day: str):
    """Remove an override: the day follows the official arrangement again."""
    row = db.session.get(CalendarOverride, _day(day))
    if row is None:
        raise NotFound("该日期没有调整记录")
    db.session.delete(row)
    db.session.commit()
    refresh_calendar()
    return jsonify({"day": day, "deleted": True})


@bp.get("/working-days")
@doc(params=WorkingDaysQuery, tag="calendar")
def working_days():
    """Working-day arithmetic: the deadline for `days` working days from `start`, or the working days to `end`."""
    current_user()
    q = query(WorkingDaysQuery())
    calendar = engine().calendar
    start: datetime = q["start"] or engine().now()
    if q["days"] is not None:
        deadline = calendar.add_working_days(start, q["days"])
        return jsonify({"start": start.isoformat(), "days": q["days"],
                        "deadline": deadline.astimezone(SHANGHAI).isoformat()})
    return jsonify({"start": start.isoformat(), "end": q["end"].isoformat(),
                    "working_days": calendar.working_days_between(start, q["end"])})

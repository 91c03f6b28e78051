"""The business calendar: admin overrides (holidays and make-up workdays for years the library does not cover, or
local decisions), imports of a whole year's official arrangement, coverage, and working-day arithmetic for clients.

An override changes deadlines computed from then on; deadlines already computed stay as they are. Other processes
pick the change up within seconds (web.deadline_service.refresh_calendar).
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from flask import Blueprint, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from engine.calendar import MAX_YEAR_FILE_BYTES, YearFileError, official_years, parse_year_file
from engine.clock import SHANGHAI
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import CalendarOverride, CalendarYear

from ..auth import current_user, roles_required
from ..calendar_notice import coverage_warnings
from ..deadline_service import import_year, refresh_calendar, year_status
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
    calendar = engine().calendar
    around = range(year - 1, year + 3)
    return jsonify({"items": [_item(r) for r in rows],
                    "official_years": [y for y in around if calendar.coverage(y) == "official"],
                    "imported_years": sorted(calendar.imported_years),
                    "uncovered_years": [y for y in around if not calendar.covers(y)]})


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
                        "deadline": deadline.astimezone(SHANGHAI).isoformat(),
                        "warnings": calendar.coverage_warnings(start, deadline - timedelta(microseconds=1))})
    return jsonify({"start": start.isoformat(), "end": q["end"].isoformat(),
                    "working_days": calendar.working_days_between(start, q["end"]),
                    "warnings": calendar.coverage_warnings(start, q["end"])})


class YearsQuery(Schema):
    until = fields.Integer(load_default=None, validate=validate.Range(min=1990, max=2200),
                           metadata={"description": "last year listed; default two years after this one"})


@bp.get("/years")
@doc(params=YearsQuery, tag="calendar")
def years():
    """Each year's holiday coverage: the official table, an admin import, or none (plain Monday–Friday)."""
    current_user()
    q = query(YearsQuery())
    this_year = engine().now().astimezone(SHANGHAI).year
    calendar = engine().calendar
    last = q["until"] or max([this_year + 2, *calendar.imported_years])
    items = year_status(calendar, db.session, range(official_years().start, last + 1))
    return jsonify({"items": items, "this_year": this_year, "warnings": coverage_warnings()})


def _year_file() -> tuple[bytes, str | None]:
    """The uploaded file: multipart `file`, or the request body (text/csv, application/json, text/plain)."""
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    if request.mimetype == "multipart/form-data" and upload is None:
        raise InvalidInput("请上传日历文件", {"file": ["表单中缺少 file 字段"]})
    if upload is not None:
        content = upload.stream.read(MAX_YEAR_FILE_BYTES + 1)
        name = (upload.filename or "").lower()
        kind = "json" if name.endswith(".json") else "csv" if name.endswith(".csv") else None
    else:
        content = request.get_data(cache=False)[: MAX_YEAR_FILE_BYTES + 1]
        mimetype = request.mimetype or ""
        kind = "json" if mimetype.endswith("json") else "csv" if mimetype in ("text/csv", "application/csv") else None
    if not content or not content.strip():
        raise InvalidInput("请上传日历文件", {"file": ["请以请求体（text/csv 或 application/json）或表单字段 file 上传"]})
    return content, kind


@bp.post("/years/<int:year>")
@roles_required("admin")
@doc(tag="calendar", responses={201: "导入成功（首次）", 422: "文件有误：fields 按行列出"})
def import_year_file(year: int):
    """Import a year's official holidays and make-up workdays (CSV date,kind,note or JSON); replaces its overrides."""
    if not 1990 <= year <= 2200:
        raise InvalidInput("年份超出范围", {"year": ["须在 1990 至 2200 之间"]})
    content, kind = _year_file()
    try:
        arrangement = parse_year_file(content, year, kind=kind)
    except YearFileError as exc:
        raise InvalidInput(exc.message, exc.problems) from exc
    user = current_user()
    first_time = db.session.get(CalendarYear, year) is None
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    import_year(db.session, arrangement, now=engine().now(), actor=user.username,
                note=upload.filename if upload is not None else None)
    try:
        db.session.commit()
    except IntegrityError as exc:  # the same year imported at the same moment by someone else
        db.session.rollback()
        raise Conflict(f"{year} 年的安排正在被另一请求导入，请刷新后重试") from exc
    refresh_calendar()
    holidays = sorted(d.isoformat() for d, workday in arrangement.days.items() if not workday)
    workdays = sorted(d.isoformat() for d, workday in arrangement.days.items() if workday)
    return jsonify({"year": year, "covered": engine().calendar.covers(year), "holidays": holidays,
                    "workdays": workdays,
                    "message": f"已导入 {year} 年节假日安排：放假 {len(holidays)} 天，调休上班 {len(workdays)} 天"}), \
        201 if first_time else 200

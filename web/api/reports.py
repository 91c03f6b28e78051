"""The supervisor's overdue reports through the API: counts per agency, street or step, the overdue list with its
age in working days (JSON or Excel), ageing buckets and the weekly trend.

The queries live in the domain (workflows.reports); the dashboard pages (web.ui.dashboard) call the same
functions, so the page and the API always show the same numbers.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate

from workflows.reports.export import export_filename, overdue_workbook
from workflows.reports.overdue import (
    GROUPS,
    MAX_AGE_WORKING_DAYS,
    OverdueFilter,
    ReportScope,
    overdue_count,
    overdue_groups,
    overdue_rows,
)
from workflows.reports.summary import summary

from ..auth import current_user, roles_required
from ..extensions import db
from ..spreadsheet import xlsx_response
from .common import API_PREFIX, doc, engine, query

bp = Blueprint("api_reports", __name__, url_prefix=f"{API_PREFIX}/reports")

REPORT_ROLES = ("supervisor", "district_approver", "district_inspector", "street_reviewer")


class OverdueQuery(Schema):
    group_by = fields.String(load_default="street", validate=validate.OneOf(list(GROUPS)))


class OverdueListQuery(Schema):
    group_by = fields.String(load_default=None, validate=validate.OneOf(list(GROUPS)),
                             metadata={"description": "with key: only the tasks of one group of the report"})
    key = fields.String(load_default=None, metadata={"description": "the group's key as the report shows it"})
    street = fields.String(load_default=None)
    role = fields.String(load_default=None)
    step = fields.String(load_default=None, metadata={"description": "the task's name"})
    min_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=MAX_AGE_WORKING_DAYS),
                             metadata={"description": "at least this many working days overdue"})
    escalated = fields.Boolean(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx"]))


def _scope() -> ReportScope:
    return ReportScope(db.session, current_user(), engine().calendar, engine().now())


@bp.get("/overdue")
@roles_required(*REPORT_ROLES)
@doc(params=OverdueQuery, tag="reports")
def overdue():
    """Open and overdue task counts per agency, street or step, with the oldest overdue age (hours, working days)."""
    q = query(OverdueQuery())
    return jsonify(overdue_groups(_scope(), q["group_by"]))


@bp.get("/overdue/tasks")
@roles_required(*REPORT_ROLES)
@doc(params=OverdueListQuery, tag="reports")
def overdue_tasks():
    """The overdue tasks, oldest first, with their age in working days; `format=xlsx` exports them to Excel."""
    q = query(OverdueListQuery())
    scope = _scope()
    flt = OverdueFilter(**{k: q[k] for k in ("group_by", "key", "street", "role", "step", "min_age", "escalated")})
    if q["format"] == "xlsx":
        data = overdue_workbook(overdue_rows(scope, flt, limit=None), title="逾期任务清单", as_of=scope.now)
        return xlsx_response(data, export_filename(scope.now))
    items = list(overdue_rows(scope, flt, limit=q["limit"], offset=q["offset"]))
    return jsonify({"as_of": scope.now.isoformat(), "total": overdue_count(scope, flt), "limit": q["limit"],
                    "offset": q["offset"], "items": items})


@bp.get("/overdue/summary")
@roles_required(*REPORT_ROLES)
@doc(tag="reports")
def overdue_summary():
    """Totals (open, overdue, escalated, paused, cases past their whole time limit), ageing buckets in working
    days, and the deadline events of the last eight weeks."""
    return jsonify(summary(_scope()))

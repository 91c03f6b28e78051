"""The joint conference's reports (救助信息共享): possible duplicate and missed aid from the aid register, and the
quarterly report of cases, amounts and funds used per agency (JSON or Excel).

The queries live in the domain (workflows.aid.queries / quarterly); the supervisor's page (web.ui.aid_reports)
calls the same functions.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate

from engine.errors import Forbidden
from workflows import access
from workflows.agencies import AGENCIES
from workflows.aid.quarterly import Quarter, quarterly_filename, quarterly_report, quarterly_workbook
from workflows.aid.queries import OVERLAP_KINDS, REPORT_ROLES

from ..auth import current_user, roles_required
from ..extensions import db
from ..spreadsheet import xlsx_response
from .common import API_PREFIX, doc, query, today

bp = Blueprint("api_aid_reports", __name__, url_prefix=f"{API_PREFIX}/reports")



class OverlapQuery(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(OVERLAP_KINDS)),
                         metadata={"description": "duplicate (重复救助) | missed (遗漏救助)"})
    date = fields.Date(load_default=None, metadata={"description": "the report date, default today"})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class QuarterlyQuery(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "default: this quarter's year"})
    quarter = fields.Integer(load_default=None, validate=validate.Range(min=1, max=4),
                             metadata={"description": "1–4, default: this quarter"})
    agency = fields.String(load_default=None, validate=validate.OneOf(list(AGENCIES)),
                           metadata={"description": "only this agency's rows"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx"]))


def quarter_from(year: int | None, number: int | None) -> Quarter:
    """The asked quarter; what is not given comes from today's."""
    current = Quarter.of(today())
    return Quarter(year or current.year, number or current.number)


@bp.get("/aid-overlaps")
@roles_required(*REPORT_ROLES)
@doc(params=OverlapQuery, tag="reports", responses={422: "unknown kind"})
def aid_overlaps():
    """Possible duplicate aid (the same kind from two agencies, or twice, in overlapping periods for a shared member)
    or possible missed aid (低保/特困 household members without 助残, 助学 or 助医), in my jurisdiction."""
    q = query(OverlapQuery())
    day = q["date"] or today()
    items = OVERLAP_KINDS[q["kind"]](db.session, current_user(), day, limit=q["limit"])
    return jsonify({"kind": q["kind"], "date": day.isoformat(), "total": len(items), "items": items})


@bp.get("/quarterly")
@roles_required(*REPORT_ROLES)
@doc(params=QuarterlyQuery, tag="reports", responses={403: "another agency's rows"})
def quarterly():
    """Cases received, approved, refused and in progress, aid granted, households reached and funds used, per
    agency and program for a quarter; `format=xlsx` exports it to Excel."""
    user = current_user()
    q = query(QuarterlyQuery())
    if access.is_agency_staff(user) and q["agency"] not in (None, user.agency):
        raise Forbidden("只能查看本单位的季度报表")
    report = quarterly_report(db.session, user, quarter_from(q["year"], q["quarter"]), q["agency"])
    if q["format"] == "xlsx":
        return xlsx_response(quarterly_workbook(report), quarterly_filename(report), ascii_name="quarterly.xlsx")
    return jsonify(report)

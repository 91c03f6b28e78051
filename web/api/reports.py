from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, case, func, select

from engine.models import HumanTask, TaskStatus
from workflows import access
from workflows.roles import AGENCY_OF_ROLE

from ..auth import roles_required
from ..extensions import db
from .common import API_PREFIX, doc, engine, query

bp = Blueprint("api_reports", __name__, url_prefix=f"{API_PREFIX}/reports")


class OverdueQuery(Schema):
    group_by = fields.String(load_default="street", validate=validate.OneOf(["agency", "street", "step"]))


@bp.get("/overdue")
@roles_required("supervisor", "district_approver", "district_inspector", "street_reviewer")
@doc(params=OverdueQuery, tag="reports")
def overdue():
    """Open and overdue task counts per agency, street or step, with the oldest overdue age in hours."""
    from ..auth import current_user

    user = current_user()
    q = query(OverdueQuery())
    now = engine().now()
    column = {"agency": HumanTask.role, "street": HumanTask.street, "step": HumanTask.name}[q["group_by"]]
    is_overdue = and_(HumanTask.due_at.is_not(None), HumanTask.due_at < now)
    rows = db.session.execute(
        select(
            column,
            func.count(),
            func.sum(case((is_overdue, 1), else_=0)),
            func.min(case((is_overdue, HumanTask.due_at), else_=None)),
        )
        .where(HumanTask.status == TaskStatus.OPEN, access.scope_filter(user, HumanTask))
        .group_by(column)
    ).all()
    groups: dict[str, dict] = {}
    for key, open_count, overdue_count, oldest_due in rows:
        label = AGENCY_OF_ROLE.get(key, key or "未指定") if q["group_by"] == "agency" else (key or "未指定")
        group = groups.setdefault(label, {"key": label, "open": 0, "overdue": 0, "oldest_overdue_hours": None})
        group["open"] += int(open_count)
        group["overdue"] += int(overdue_count or 0)
        if oldest_due is not None:
            if oldest_due.tzinfo is None:
                from datetime import UTC

                oldest_due = oldest_due.replace(tzinfo=UTC)
            hours = round((now - oldest_due).total_seconds() / 3600, 1)
            group["oldest_overdue_hours"] = max(group["oldest_overdue_hours"] or 0, hours)
    items = sorted(groups.values(), key=lambda g: (-g["overdue"], -g["open"], g["key"]))
    return jsonify({"group_by": q["group_by"], "as_of": now.isoformat(), "items": items,
                    "total": {"open": sum(g["open"] for g in items), "overdue": sum(g["overdue"] for g in items)}})

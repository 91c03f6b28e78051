"""流程故障: the admin's page of incidents — background steps that failed and parked their instance — with retry.

Admins and supervisors see the list (the dashboard links here); only admins retry. The rows come from
engine.incidents, the same as `GET /api/v1/admin/incidents`.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.routing import BuildError

from engine.errors import EngineError
from engine.incidents import count_open_incidents, list_incidents
from workflows.listener import case_id_of

from ..engine_access import engine
from ..extensions import db
from .common import page_user, roles_required

bp = Blueprint("incidents_ui", __name__, url_prefix="/admin/incidents")

VIEW_ROLES = ("supervisor",)  # and admin (roles_required always lets admins in)
KIND_LABELS = {"timer": "定时器", "message": "消息"}
PAGE_SIZE = 200


def _case_url(business_key: str | None) -> str | None:
    case_id = case_id_of(business_key)
    if case_id is None:
        return None
    try:
        return url_for("dashboard.case", case_id=case_id)
    except BuildError:
        return None


@bp.get("/")
@roles_required(*VIEW_ROLES)
def index():
    """Open incidents, oldest first (or the resolved ones, latest first)."""
    status = "resolved" if request.args.get("status") == "resolved" else "open"
    rows = list_incidents(db.session, resolved=status == "resolved", limit=PAGE_SIZE)
    return render_template("admin/incidents.html", rows=rows, status=status, kinds=KIND_LABELS,
                           open_count=count_open_incidents(db.session), now=engine().now(),
                           case_ids={r.id: case_id_of(r.business_key) for r in rows},
                           case_urls={r.id: _case_url(r.business_key) for r in rows},
                           can_retry=page_user().role == "admin")


@bp.post("/<int:incident_id>/retry")
@roles_required("admin")
def retry(incident_id: int):
    """重试: the instance runs again and the failed work (its due timers) runs at once."""
    try:
        engine().retry_incident(incident_id, actor=page_user().username)
    except EngineError as exc:  # IncidentStillFailing included: the incident stays open, the message says why
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"故障 {incident_id} 已重试成功，流程继续办理", "success")
    return redirect(url_for("incidents_ui.index"))

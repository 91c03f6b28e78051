from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, ValidationError, fields, validate

from engine import clock as clock_module
from engine.durations import parse_duration
from engine.errors import Conflict, NotFound
from engine.incidents import IncidentRow, IncidentStillFailing, incident_row, list_incidents
from workflows.listener import case_id_of

from ..auth import current_user, roles_required
from ..engine_setup import advance_simulated_clock
from ..errors import error_response
from ..extensions import db
from ..jobs import run_due_sweeps
from .common import API_PREFIX, doc, engine, json_body, load, query

bp = Blueprint("api_admin", __name__, url_prefix=f"{API_PREFIX}/admin")


class DurationField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class ClockRequest(Schema):
    advance = DurationField(required=True, metadata={"description": "ISO 8601 duration, e.g. P8D or PT2H"})


@bp.get("/clock")
@roles_required("admin")
@doc(tag="admin")
def show_clock():
    """The clock's mode and current instant."""
    clock = clock_module.active()
    return jsonify({"mode": clock.mode, "now": engine().now().isoformat()})


@bp.post("/clock")
@roles_required("admin")
@doc(body=ClockRequest, tag="admin", responses={409: "not in simulated mode"})
def advance_clock():
    """Simulated mode only: move time forward and run the due sweeps before answering."""
    if clock_module.active().mode != "simulated":
        raise Conflict("只有模拟时钟（JIUZHU_CLOCK=simulated）可以调整时间")
    body = load(ClockRequest(), json_body())
    now = advance_simulated_clock(body["advance"])
    handled = run_due_sweeps()
    return jsonify({"mode": "simulated", "now": now.isoformat(), "sweeps": handled})


class IncidentQuery(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]),
                           metadata={"description": "open (default, oldest first) or resolved (latest first)"})
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


def incident_json(row: IncidentRow) -> dict:
    return {**row.as_dict(), "case_id": case_id_of(row.business_key)}


def _incident_row(incident_id: int) -> IncidentRow:
    row = incident_row(db.session, incident_id)
    if row is None:
        raise NotFound("故障记录不存在")
    return row


@bp.get("/incidents")
@roles_required("admin")
@doc(params=IncidentQuery, tag="admin")
def incidents():
    """Incidents: background steps that failed and parked their instance (status `incident`)."""
    args = query(IncidentQuery())
    rows = list_incidents(db.session, resolved=args["status"] == "resolved", limit=args["limit"],
                          offset=args["offset"])
    return jsonify({"items": [incident_json(r) for r in rows]})


@bp.post("/incidents/<int:incident_id>/retry")
@roles_required("admin")
@doc(tag="admin", responses={409: "already resolved, or the work failed again (the incident stays open; "
                                  "`error.message` says why)"})
def retry_incident(incident_id: int):
    """Set the instance running again and run the failed work (its due timers) right away."""
    try:  # an unknown incident: NotFound from the engine
        engine().retry_incident(incident_id, actor=current_user().username)
    except IncidentStillFailing as exc:
        db.session.rollback()
        return error_response(409, exc.code, str(exc), None, {"incident": incident_json(_incident_row(incident_id))})
    return jsonify(incident_json(_incident_row(incident_id)))

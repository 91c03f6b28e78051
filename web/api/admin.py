from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, ValidationError, fields

from engine import clock as clock_module
from engine.durations import parse_duration
from engine.errors import Conflict

from ..auth import roles_required
from ..engine_setup import advance_simulated_clock
from ..jobs import run_due_sweeps
from .common import API_PREFIX, doc, engine, json_body, load

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

"""`/api/v1/me`: the calling user's own settings — for now the substitute (代理) who works their tasks while they are
away (``workflows.tasks.substitution`` has the rules, the same the page uses)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields

from workflows.substitutes import Substitute
from workflows.tasks import substitution

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body

bp = Blueprint("api_me", __name__, url_prefix=f"{API_PREFIX}/me")


class SubstituteRequest(Schema):
    user = fields.String(required=True, metadata={"description": "the colleague's username"})
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "first day (YYYY-MM-DD)"})
    to = fields.Date(required=True, metadata={"description": "last day, included"})


def substitute_item(row: Substitute) -> dict:
    first, last = substitution.day_range(row)
    return {"id": row.id, "user": row.username, "substitute": row.substitute, "from": first.isoformat(),
            "to": last.isoformat(), "starts_at": iso(row.starts_at), "ends_at": iso(row.ends_at)}


def _answer():
    user = current_user()
    now = engine().now()
    return {"substitutes": [substitute_item(r) for r in substitution.arrangements(db.session, user, now)],
            "standing_in_for": [substitute_item(r) for r in substitution.standing_in(db.session, user, now)]}


@bp.get("/substitute")
@doc(tag="auth")
def substitute():
    """My substitutes (running or to come) and whom I stand in for."""
    return jsonify(_answer())


@bp.put("/substitute")
@doc(body=SubstituteRequest, tag="auth", responses={201: "named", 422: "per field: user, from, to"})
def set_substitute():
    """代理: name a colleague (same role and jurisdiction) to work my assigned tasks from `from` to `to` (days)."""
    # The service checks every field itself (the page posts the same strings), so errors come per field at once.
    row = substitution.set_substitute(db.session, engine(), current_user(), json_body())
    return jsonify(dict(substitute_item(row), **_answer())), 201


@bp.delete("/substitute")
@doc(tag="auth")
def cancel_substitute():
    """End my running and coming substitutes now → `{cancelled}`."""
    return jsonify({"cancelled": substitution.cancel_substitutes(db.session, engine(), current_user())})

"""The register (保障对象台账) and the local standards: read the register, preview and apply a new standard."""
from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate

from workflows.register import queries, standards
from workflows.register.models import RecipientStatus

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine, json_body, query

bp = Blueprint("api_recipients", __name__, url_prefix=API_PREFIX)


class RecipientQuery(Schema):
    program = fields.String(load_default=None, validate=validate.Length(max=50))
    street = fields.String(load_default=None, validate=validate.Length(max=50))
    community = fields.String(load_default=None, validate=validate.Length(max=50))
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in RecipientStatus]))
    month = fields.String(load_default=None, validate=validate.Length(max=7))
    q = fields.String(load_default=None, validate=validate.Length(max=50))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class StandardQuery(Schema):
    program = fields.String(load_default=None, validate=validate.Length(max=50))


class StandardRequest(Schema):
    """Documentation of the body; workflows.register.standards checks it (every bad field named)."""

    program = fields.String(required=True, metadata={"description": "dibao, tekun, …"})
    area = fields.String(load_default="urban", metadata={"description": "urban | rural"})
    amount = fields.Decimal(required=True, metadata={"description": "yuan per person per month, 2 places"})
    effective_month = fields.String(required=True, metadata={"description": "YYYY-MM, not before this month"})
    district = fields.String(load_default=None, metadata={"description": "admins only; others: their own"})
    topup_rates = fields.Dict(load_default=None, metadata={"description": "category → share of the standard"})
    district_share = fields.Decimal(load_default=None, metadata={"description": "0–1, the rest is the township's"})


@bp.get("/recipients")
@doc(params=RecipientQuery, tag="register")
def index():
    """The register in my jurisdiction, newest first: amount, breakdown, status, since month, next review."""
    user = current_user()
    q = query(RecipientQuery())
    flt = queries.RegisterFilter(program=q["program"], street=q["street"], community=q["community"],
                                 status=q["status"], month=q["month"], q=q["q"]).check()
    rows = queries.list_recipients(db.session, user, flt, limit=q["limit"], offset=q["offset"])
    return jsonify({"items": [queries.recipient_item(r) for r in rows],
                    "total": queries.count_recipients(db.session, user, flt),
                    "limit": q["limit"], "offset": q["offset"]})


@bp.get("/recipients/<int:recipient_id>")
@doc(tag="register", responses={404: "missing or outside my jurisdiction"})
def show(recipient_id: int):
    """One recipient: household (masked), amount and breakdown, its amount changes, payments and reviews."""
    recipient = queries.get_recipient(db.session, current_user(), recipient_id)
    return jsonify(queries.recipient_detail(db.session, recipient))


@bp.get("/standards")
@doc(params=StandardQuery, tag="register")
def standards_index():
    """Local standards of my district (per program and urban/rural, with the month each starts), newest first."""
    q = query(StandardQuery())
    rows = standards.list_standards(db.session, current_user(), q["program"])
    return jsonify({"items": [standards.standard_item(r) for r in rows]})


@bp.post("/standards/preview")
@doc(body=StandardRequest, tag="register", responses={200: "the affected recipients and totals; nothing written",
                                                       422: "field errors"})
def standards_preview():
    """What a new standard would change: every affected recipient with old and new amount, and the totals."""
    return jsonify(standards.preview_standard(db.session, current_user(), json_body(), engine().now()))


@bp.post("/standards")
@doc(body=StandardRequest, tag="register", responses={201: "standard applied", 422: "field errors"})
def standards_apply():
    """Apply a new standard: the standard and one audited amount change per affected recipient, all or nothing."""
    result = standards.apply_standard(db.session, current_user(), json_body(), engine().now())
    return jsonify(result), 201

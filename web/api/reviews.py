"""Periodic reviews (定期复核) and events on a recipient: `GET /reviews`, `POST /recipients/{id}/events`."""
from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate

from workflows.register.events import EventSchema, record_event
from workflows.register.models import ReviewStatus
from workflows.register.reviews import list_reviews

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine, json_body, query

bp = Blueprint("api_reviews", __name__, url_prefix=API_PREFIX)


class ReviewQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ReviewStatus]))
    due_before = fields.Date(load_default=None)
    street = fields.String(load_default=None, validate=validate.Length(max=50))
    recipient_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


@bp.get("/reviews")
@doc(params=ReviewQuery, tag="reviews")
def index():
    """Reviews of recipients in my jurisdiction, soonest due first, with the names of their open tasks."""
    q = query(ReviewQuery())
    items = list_reviews(db.session, current_user(), status=q["status"], due_before=q["due_before"],
                         street=q["street"], recipient_id=q["recipient_id"], limit=q["limit"], offset=q["offset"])
    return jsonify({"items": items, "limit": q["limit"], "offset": q["offset"]})


@bp.post("/recipients/<int:recipient_id>/events")
@doc(body=EventSchema, tag="reviews", responses={201: "event recorded", 409: "recipient stopped",
                                                 422: "field errors"})
def event(recipient_id: int):
    """Record a death, an income change or a refusal of public-welfare labour; may start a review."""
    eng = engine()
    answer = record_event(db.session, eng, recipient_id, json_body(), current_user(), eng.now())
    return jsonify(answer), 201

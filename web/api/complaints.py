"""Complaints and reports (投诉举报): the public intake (no login, throttled per source address), the staff intake
(the same call by a logged-in street or community worker, throttled per user), and the staff's list and detail.
The public answer is the same whether or not the household is known (workflows.complaints.intake)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields, validate

from engine.errors import EngineError
from workflows.complaints import intake, queries
from workflows.complaints.models import ComplaintOutcome, ComplaintStatus

from ..auth import TooManyAttempts, current_user, source_address
from ..errors import Unauthorized
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, query

bp = Blueprint("api_complaints", __name__, url_prefix=f"{API_PREFIX}/complaints")


class TooManyComplaints(TooManyAttempts):
    """429 for the public intake (answered by the app's TooManyAttempts handler, with Retry-After)."""

    code = "too_many_requests"

    def __init__(self, retry_after: int):
        self.retry_after = max(1, retry_after)
        EngineError.__init__(self, "提交过于频繁，请稍后再试，或拨打 12345 热线、到街道办事处当面反映")


class ComplaintQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in ComplaintStatus]))
    outcome = fields.String(load_default=None, validate=validate.OneOf([o.value for o in ComplaintOutcome]))
    street = fields.String(load_default=None, validate=validate.Length(max=50))
    unmatched = fields.Boolean(load_default=None, metadata={"description": "true: only 待分派 (no household found)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


def optional_user():
    """The logged-in user, or None for the public. A bearer token that does not work is refused (401), never
    taken for the public."""
    try:
        return current_user()
    except Unauthorized:
        if request.headers.get("Authorization"):
            raise
        return None


def lodge_public_or_staff(payload):
    """The API's intake (workflows.complaints.intake.submit, as the public page); 429 through the app's handler."""
    user = optional_user()
    try:
        return user, intake.submit(db.session, engine(), payload, user=user, source=source_address())
    except intake.TooManySubmissions as exc:
        raise TooManyComplaints(exc.retry_after) from exc


@bp.post("")
@doc(body=intake.ComplaintSchema, auth=False, tag="complaints",
     responses={201: "lodged: {reference, status} (the same for a household not known here: kept unmatched, 待分派)",
                403: "a logged-in role that does not take complaints",
                422: "field errors (staff: a household not found in their jurisdiction)",
                429: "too many submissions from this address (public) or this user (staff)"})
def create():
    """Lodge a complaint about a household (its ID number or case number): without login (the public, throttled
    per address) or as a street or community worker (channel staff); it goes to the household's street."""
    user, complaint = lodge_public_or_staff(json_body())
    body = {"reference": complaint.reference, "status": complaint.status.value}
    if user is not None:
        body.update(id=complaint.id, channel=complaint.channel.value,
                    process_instance_id=complaint.process_instance_id, created_at=iso(complaint.created_at))
    return jsonify(body), 201


@bp.get("")
@doc(params=ComplaintQuery, tag="complaints", responses={403: "a role that does not work complaints"})
def index():
    """Complaints in my jurisdiction, newest first (ID numbers masked); district roles also see the unmatched ones
    (待分派: no household found for what the reporter gave)."""
    user = current_user()
    q = query(ComplaintQuery())
    flt = queries.ComplaintFilter(status=q["status"], outcome=q["outcome"], street=q["street"],
                                  unmatched=q["unmatched"])
    rows, total = queries.list_complaints(db.session, user, flt, limit=q["limit"], offset=q["offset"])
    return jsonify({"items": [queries.complaint_item(c) for c in rows], "total": total, "limit": q["limit"],
                    "offset": q["offset"]})


@bp.get("/<int:complaint_id>")
@doc(tag="complaints", responses={404: "missing or outside my jurisdiction"})
def show(complaint_id: int):
    """One complaint: text, status, outcome, finding and the receivable of a fraud; the reporter's name and contact
    only for the street reviewer and the district roles (举报人信息依法予以保密)."""
    user = current_user()
    complaint = queries.get_complaint(db.session, user, complaint_id)
    return jsonify(queries.complaint_detail(db.session, complaint, user))

from __future__ import annotations

import secrets as secrets_module

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from webhooks.inbound import BadSignature, parse_secrets, receive
from webhooks.models import WebhookDelivery, WebhookSubscription

from ..auth import roles_required
from ..errors import Unauthorized
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, load

bp = Blueprint("webhooks_inbound", __name__)
admin_bp = Blueprint("api_webhooks", __name__, url_prefix=f"{API_PREFIX}/admin/webhooks")


@bp.post("/webhooks/inbound/<source>")
def inbound(source: str):
    """An agency system's signed event, e.g. the economic check's `economic_check.completed` for a case."""
    try:
        received = receive(db.session, engine(), source=source,
                           secrets=parse_secrets(current_app.config.get("JIUZHU_WEBHOOK_SECRETS")),
                           headers=request.headers, body=request.get_data(), now=engine().now())
    except BadSignature as exc:
        raise Unauthorized(f"签名校验失败：{exc}") from exc
    return jsonify({"status": received.status, "event_id": received.event_id})


class SubscriptionRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    event_types = fields.List(fields.String(validate=validate.Length(min=1, max=100)), required=True,
                              validate=validate.Length(min=1))
    secret = fields.String(load_default=None, validate=validate.Length(min=16, max=200))


def subscription_json(s: WebhookSubscription, with_secret: bool = False) -> dict:
    body = {"id": s.id, "name": s.name, "url": s.url, "event_types": s.event_types, "active": s.active,
            "created_at": iso(s.created_at)}
    if with_secret:
        body["secret"] = s.secret
    return body


@admin_bp.get("")
@roles_required("admin")
@doc(tag="webhooks")
def subscriptions():
    """Outbound webhook subscriptions."""
    rows = db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)).all()
    return jsonify([subscription_json(s) for s in rows])


@admin_bp.post("")
@roles_required("admin")
@doc(body=SubscriptionRequest, tag="webhooks", responses={201: "created; the secret is shown once"})
def subscribe():
    """Add an agency system that receives events (patterns may end in `*`); answers with its signing secret."""
    body = load(SubscriptionRequest(), json_body())
    subscription = WebhookSubscription(name=body["name"], url=body["url"], event_types=body["event_types"],
                                       secret=body["secret"] or secrets_module.token_hex(24), active=True,
                                       created_at=engine().now())
    db.session.add(subscription)
    db.session.commit()
    return jsonify(subscription_json(subscription, with_secret=True)), 201


@admin_bp.get("/deliveries")
@roles_required("admin", "supervisor")
@doc(tag="webhooks")
def deliveries():
    """The latest delivery attempts (newest first): event, receiver, attempt, HTTP status, error."""
    rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(200)).all()
    return jsonify([{"id": d.id, "event_id": d.event_id, "subscription_id": d.subscription_id,
                     "delivery_id": d.delivery_id, "attempt": d.attempt, "at": iso(d.at),
                     "status_code": d.status_code, "ok": d.ok, "error": d.error, "duration_ms": d.duration_ms}
                    for d in rows])

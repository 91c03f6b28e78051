from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields

from ..auth import authenticate, current_user, issue_token, login_payload
from .common import API_PREFIX, doc

bp = Blueprint("api_auth", __name__, url_prefix=f"{API_PREFIX}/auth")


class TokenRequest(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True)


def user_json(user) -> dict:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "district": user.district, "street": user.street, "community": user.community}


@bp.post("/token")
@doc(body=TokenRequest, auth=False, tag="auth")
def token():
    """Exchange a username and password for a bearer token."""
    username, password = login_payload()
    user = authenticate(username, password)
    return jsonify({"token": issue_token(user), "user": user_json(user)})


@bp.get("/me")
@doc(tag="auth")
def me():
    """The user the token belongs to."""
    return jsonify(user_json(current_user()))

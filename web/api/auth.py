from __future__ import annotations

from flask import Blueprint, jsonify, request, session
from marshmallow import Schema, fields

from ..auth import (
    authenticate,
    current_user,
    end_session,
    issue_token,
    login_payload,
    token_session_id,
)
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


@bp.post("/logout")
@doc(tag="auth", responses={204: "the session is ended"})
def logout():
    """End the calling token (replayed later: 401); called from a page with its cookie, end that page session."""
    current_user()
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        end_session(token_session_id(header[7:].strip()))
    else:
        end_session(session.get("sid"))
        session.clear()
    return "", 204

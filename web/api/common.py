"""Helpers shared by the API views: request bodies, marshmallow validation, the engine, documentation marks."""
from __future__ import annotations

from flask import request
from marshmallow import Schema, ValidationError

from engine.errors import InvalidInput
from workflows import messages

from ..engine_access import engine, today

__all__ = ["API_PREFIX", "doc", "engine", "iso", "json_body", "load", "query", "today"]

API_PREFIX = "/api/v1"


def json_body() -> dict:
    """The request's JSON object. Its size (1 MB) and text (no lone surrogates) were already checked, field by
    field, by web.input_guard before the view ran; the parsed body is cached, so it is read once."""
    body = request.get_json(silent=True)  # deep nesting was refused by web.input_guard when it parsed the body
    if body is None and request.data:
        raise InvalidInput("请求体不是合法的 JSON", {"body": ["不是合法的 JSON"]})
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInput(messages.BODY_NOT_OBJECT, {"body": [messages.NOT_OBJECT]})
    return body


def load(schema: Schema, data) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput("提交的数据有误", exc.normalized_messages()) from exc


def query(schema: Schema) -> dict:
    return load(schema, request.args.to_dict())


def doc(*, body: type[Schema] | None = None, params: type[Schema] | None = None, auth: bool = True,
        tag: str | None = None, responses: dict | None = None):
    """Mark a view with what the OpenAPI document should say about it."""

    def decorator(view):
        view._openapi = {"body": body, "params": params, "auth": auth, "tag": tag, "responses": responses or {}}
        return view

    return decorator


def iso(value):
    return value.isoformat() if value is not None else None

"""Helpers shared by the API views: request bodies, marshmallow validation, the engine, documentation marks."""
from __future__ import annotations

from flask import current_app, request
from marshmallow import Schema, ValidationError

from engine.errors import InvalidInput
from engine.runtime import Engine

API_PREFIX = "/api/v1"


def engine() -> Engine:
    return current_app.extensions["jiuzhu.engine"]


def json_body() -> dict:
    try:
        body = request.get_json(silent=True)
    except RecursionError as exc:  # absurdly deep nesting: refuse it, do not crash on it
        raise InvalidInput("请求体嵌套层级过深", {"body": ["嵌套层级过深"]}) from exc
    if body is None and request.data:
        raise InvalidInput("请求体不是合法的 JSON", {"body": ["不是合法的 JSON"]})
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInput("请求体须为 JSON 对象", {"body": ["须为 JSON 对象"]})
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

"""The OpenAPI document, built from the registered routes and their `doc` marks, and the docs page."""
from __future__ import annotations

import re
from decimal import Decimal

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, jsonify, render_template

from .common import API_PREFIX, doc

bp = Blueprint("api_docs", __name__)

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")


def build_spec(app) -> dict:
    spec = APISpec(title="Jiuzhu 救助 API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "社会救助审批 BPM 系统的 REST API。除 /auth/token 与 /health 外，"
                                        "所有调用须带 Authorization: Bearer <token>。"})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    error = {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}}}}}
    spec.components.schema("Error", error)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule.startswith(API_PREFIX) or rule.rule == "/health"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "_openapi", {})
        path = _CONVERTER.sub(lambda m: "{" + m.group("name") + "}", rule.rule)
        path_params = [{"name": m.group("name"), "in": "path", "required": True,
                        "schema": {"type": "integer" if m.group("conv") == "int" else "string"}}
                       for m in _CONVERTER.finditer(rule.rule)]
        operations = {}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            doc = (view.__doc__ or "").strip().splitlines()
            op: dict = {"summary": doc[0] if doc else rule.endpoint, "tags": [meta.get("tag") or "misc"],
                        "parameters": list(path_params),
                        "responses": {"200": {"description": "OK"},
                                      "4XX": {"description": "错误", "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/Error"}}}}}}
            for status, text in meta.get("responses", {}).items():
                op["responses"][str(status)] = {"description": text}
            if meta.get("auth", True) and rule.rule != "/health":
                op["security"] = [{"bearer": []}]
            if meta.get("params"):
                op["parameters"].append({"in": "query", "schema": meta["params"]})
            if meta.get("body") and method in ("POST", "PUT", "PATCH"):
                op["requestBody"] = {"content": {"application/json": {"schema": meta["body"]}}}
            operations[method.lower()] = op
        spec.path(path=path, operations=operations)
    return _json_numbers(spec.to_dict())


def _json_numbers(value):
    """Decimals → JSON numbers. apispec writes a Decimal field's bounds as the field serializes them (Range(min=0)
    on `monthly_income` becomes Decimal('0.00')), which Flask's JSON would turn into the string "0.00" — and a
    generated client cannot build a request from `minimum: "0.00"`."""
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@bp.get(f"{API_PREFIX}/openapi.json")
@doc(auth=False, tag="meta")
def openapi():
    """The OpenAPI 3 document of this API."""
    return jsonify(build_spec(current_app))


@bp.get("/api/docs")
def docs_page():
    return render_template("api_docs.html")

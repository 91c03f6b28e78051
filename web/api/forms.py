"""`/api/v1/forms`: the task forms a diagram's `formKey` may name — the registered (marshmallow) forms shipped with
the programs and the designed (form-js) forms process designers save, stored by key with versions.

The rules live in workflows.forms.designed (reading and validating a form-js schema) and
workflows.forms.designed_store (versions, pins); the views parse and shape.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields
from sqlalchemy import select

from engine.errors import InvalidInput, NotFound
from workflows.forms import FORMS, json_schema
from workflows.forms import designed_store as store
from workflows.forms.designed_models import DesignedForm
from workflows.roles import DESIGNERS

from ..auth import current_user, roles_required
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body

bp = Blueprint("api_forms", __name__, url_prefix=f"{API_PREFIX}/forms")


class SaveFormRequest(Schema):
    key = fields.String(required=True, metadata={"description": "表单标识（不能与内置表单相同）"})
    name = fields.String(load_default=None, metadata={"description": "名称（默认沿用上一版或表单标识）"})
    schema = fields.Dict(required=True, metadata={"description": "form-js 表单定义（JSON）"})


class FormQuery(Schema):
    version = fields.Integer(load_default=None)


def designed_json(row: DesignedForm, *, with_schema: bool = True) -> dict:
    return {**store.form_json(row, with_schema=with_schema), "created_by": row.created_by,
            "created_at": iso(row.created_at)}


@bp.get("")
@doc(tag="forms")
def index():
    """Every form a task may use: registered `{key, title, kind: "registered"}` and designed `{key, name, kind:
    "designed", version}` (the latest version of each)."""
    current_user()
    registered = [{"key": f.key, "title": f.title, "kind": "registered"} for f in FORMS.values()]
    designed = [designed_json(row, with_schema=False) for row in store.latest_forms(db.session)]
    return jsonify({"items": registered + designed})


@bp.post("")
@roles_required(*DESIGNERS)
@doc(body=SaveFormRequest, tag="forms", responses={201: "a new version", 200: "unchanged: the latest version",
                                                    422: "problems per field (`key`, `name`, `schema`)"})
def create():
    """Save a designed form `{key, name?, schema}` (schema: form-js JSON, at most 200 components and 64 KB).

    A changed schema or name makes the next version; the same content answers the latest version with 200.
    """
    user = current_user()
    body = json_body()
    for name in ("key", "schema"):
        if body.get(name) in (None, ""):
            raise InvalidInput("表单定义有误", {name: ["此项为必填项"]})
    row, created = store.save_form(db.session, key=body["key"], name=body.get("name"), schema=body["schema"],
                                   user=user.username, now=engine().now())
    return jsonify({"key": row.key, "version": row.version, "name": row.name, "created": created}), \
        201 if created else 200


@bp.get("/<key>")
@doc(params=FormQuery, tag="forms")
def show(key: str):
    """One form: a designed one's version (`?version=`, default the latest) with its form-js schema, or a
    registered one with its JSON Schema."""
    current_user()
    raw = (request.args.get("version") or "").strip()
    if raw and (not raw.isdecimal() or len(raw) > 9):  # an INTEGER column: a longer number matches nothing
        raise InvalidInput("version 须为正整数", {"version": ["须为正整数"]})
    if key in FORMS:
        if raw:
            raise NotFound(f"内置表单 {key} 没有版本")
        return jsonify({"key": key, "title": FORMS[key].title, "kind": "registered", "schema": json_schema(key)})
    row = store.version_of(db.session, key, int(raw) if raw else None)
    versions = sorted(db.session.scalars(select(DesignedForm.version).where(DesignedForm.key == key)))
    return jsonify({**designed_json(row), "versions": versions})

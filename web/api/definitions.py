from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from engine.deploy import deploy, list_definitions
from engine.errors import InvalidInput, NotFound
from engine.models import ProcessDefinition
from workflows.forms import FORMS
from workflows.roles import TASK_ROLES

from ..auth import current_user, roles_required
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso

bp = Blueprint("api_definitions", __name__, url_prefix=f"{API_PREFIX}/process-definitions")


def definition_json(d: ProcessDefinition, running: int | None = None) -> dict:
    item = {"key": d.key, "version": d.version, "name": d.name, "deployed_at": iso(d.deployed_at),
            "deployed_by": d.deployed_by, "user_tasks": d.user_tasks}
    if running is not None:
        item["running_instances"] = running
    return item


@bp.get("")
@doc(tag="definitions")
def index():
    """Every deployed version of every process, with its count of running instances."""
    current_user()
    return jsonify([definition_json(d, n) for d, n in list_definitions(db.session)])


def _uploaded_xml() -> bytes:
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("请以 file 字段上传 BPMN 文件", {"file": ["缺少文件"]})
        return upload.read()
    if not request.data:
        raise InvalidInput("请求体为空：请提交 BPMN XML", {"body": ["缺少 BPMN XML"]})
    return request.data


@bp.post("")
@roles_required("process_designer")
@doc(tag="definitions", responses={201: "deployed", 200: "unchanged", 422: "problems"})
def create():
    """Deploy a BPMN diagram (XML body or multipart `file`); unchanged content makes no new version."""
    user = current_user()
    result = deploy(db.session, _uploaded_xml(), now=engine().now(), deployed_by=user.username,
                    roles=TASK_ROLES, form_keys=set(FORMS))
    body = {"key": result.definition.key, "version": result.definition.version, "created": result.created}
    return jsonify(body), 201 if result.created else 200


@bp.get("/<key>/xml")
@doc(tag="definitions")
def xml(key: str):
    """The BPMN XML of a version (`?version=`, default the latest)."""
    current_user()
    stmt = select(ProcessDefinition).where(ProcessDefinition.key == key)
    version = request.args.get("version")
    if version:
        if not version.isdigit():
            raise InvalidInput("version 须为正整数", {"version": ["须为正整数"]})
        stmt = stmt.where(ProcessDefinition.version == int(version))
    definition = db.session.scalars(stmt.order_by(ProcessDefinition.version.desc()).limit(1)).first()
    if definition is None:
        raise NotFound("流程定义不存在")
    return definition.bpmn_xml, 200, {"Content-Type": "application/xml; charset=utf-8"}

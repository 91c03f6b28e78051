from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine.errors import Forbidden, InvalidInput, NotFound
from engine.incidents import open_incident_of
from engine.models import HumanTask, ProcessInstance, TaskStatus
from workflows import access
from workflows.listener import case_id_of
from workflows.programs import case_process_keys
from workflows.tasks.operations import OWN_FLOWS, CaseOperations

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, load
from .tasks import task_item

bp = Blueprint("api_instances", __name__, url_prefix=f"{API_PREFIX}/process-instances")


class StartRequest(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=100))
    business_key = fields.String(load_default=None, validate=validate.Length(max=100))
    data = fields.Dict(keys=fields.String(), load_default=dict)


class MessageRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    payload = fields.Raw(load_default=None)


class TerminateRequest(Schema):
    reason = fields.String(required=True)


def visible_instance(instance_id: int) -> ProcessInstance:
    user = current_user()
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("流程实例不存在")
    if not access.can_see_instance(user, instance):
        raise NotFound("流程实例不存在")
    return instance


def instance_json(instance: ProcessInstance, tasks: list[HumanTask] | None = None) -> dict:
    if tasks is None:
        tasks = list(db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN)
        ))
    return {
        "id": instance.id,
        "process_key": instance.process_key,
        "version": engine().spec_for(instance.definition_id).version,
        "business_key": instance.business_key,
        "status": instance.status.value,
        "started_by": instance.started_by,
        "created_at": iso(instance.created_at),
        "completed_at": iso(instance.completed_at),
        "waiting": [{k: w.get(k) for k in ("type", "name", "element_id", "due_at") if w.get(k) is not None}
                    for w in instance.waiting or []],
        "tasks": [task_item(t) for t in tasks],
        "incident": _open_incident(instance),
    }


def _open_incident(instance: ProcessInstance) -> dict | None:
    """The open incident of an instance parked by a failed background step (status `incident`), else None."""
    incident = open_incident_of(db.session, instance.id)
    if incident is None:
        return None
    return {"id": incident.id, "element_id": incident.element_id, "element_name": incident.element_name,
            "kind": incident.kind.value, "error": incident.error, "attempts": incident.attempts,
            "since": iso(incident.created_at)}


@bp.post("")
@doc(body=StartRequest, tag="instances", responses={201: "started"})
def start():
    """Start any deployed process; the instance takes the starting user's jurisdiction."""
    user = current_user()
    body = load(StartRequest(), json_body())
    if user.role == "process_designer":
        raise Forbidden("流程设计员不能发起业务流程")
    if body["process_key"] in case_process_keys():
        raise Forbidden("救助项目的流程须通过 POST /cases 受理申请后启动")
    if case_id_of(body["business_key"]) is not None:
        raise InvalidInput("业务编号不能使用案件前缀", {"business_key": ["“case:” 前缀保留给案件"]})
    reserved = next((p for p, _, _ in OWN_FLOWS if (body["business_key"] or "").startswith(p)), None)
    if reserved is not None:
        # Their scripts write to the complaint / review the key names: only the intake and the review sweep start them.
        raise InvalidInput("业务编号不能使用保留前缀", {"business_key": [f"“{reserved}” 前缀保留给投诉举报和定期复核"]})
    instance = engine().start(
        body["process_key"],
        data=body["data"],
        business_key=body["business_key"],
        started_by=user.username,
        scope={"district": user.district, "street": user.street, "community": user.community},
    )
    return jsonify(instance_json(instance)), 201


@bp.get("/<int:instance_id>")
@doc(tag="instances")
def show(instance_id: int):
    """One instance: status, open tasks and what it waits for (messages, timers with due time)."""
    return jsonify(instance_json(visible_instance(instance_id)))


@bp.post("/<int:instance_id>/messages")
@doc(body=MessageRequest, tag="instances", responses={409: "nothing waits for this message"})
def message(instance_id: int):
    """Deliver a BPMN message to a waiting instance."""
    user = current_user()
    instance = visible_instance(instance_id)
    body = load(MessageRequest(), json_body())
    if case_id_of(instance.business_key) is not None and user.role != "admin":
        # A case's messages come from other agencies (the economic check): they arrive by the signed inbound
        # webhook; staff who can see the case must not be able to forge them.
        raise Forbidden("案件的外部消息须由对应单位经签名接口发送")
    engine().send_message(instance.id, body["name"], body["payload"], actor=user.username)
    return jsonify(instance_json(db.session.get(ProcessInstance, instance.id)))


@bp.post("/<int:instance_id>/terminate")
@doc(body=TerminateRequest, tag="instances", responses={403: "not an admin or district approver",
                                                        409: "already ended, or a complaint's or review's instance",
                                                        422: "no reason"})
def terminate(instance_id: int):
    """终止: an admin or district approver ends the instance with a reason (open tasks cancelled; a case closed)."""
    body = load(TerminateRequest(), json_body())
    instance = CaseOperations(db.session, engine(), current_user()).terminate(instance_id, body["reason"])
    return jsonify(instance_json(instance))

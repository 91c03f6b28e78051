"""Deadline actions: urging a task (催办), pausing and resuming a case's clocks while it waits on the applicant
(补正材料), extending a whole time limit, an instance's deadlines at a glance, and each district's rule set."""
from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine.errors import Forbidden, InvalidInput, NotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance
from workflows import access, rulesets
from workflows.deadline_views import EXTEND_ROLES, PAUSE_ROLES, URGE_ROLES, event_item, instance_deadlines
from workflows.models import Jurisdiction
from workflows.programs import PROGRAMS

from ..auth import current_user, roles_required
from ..deadline_service import deadlines
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, load

bp = Blueprint("api_time_limits", __name__, url_prefix=API_PREFIX)


class UrgeRequest(Schema):
    message = fields.String(load_default=None, validate=validate.Length(max=500),
                            metadata={"description": "催办意见"})


class PauseRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500),
                           metadata={"description": "e.g. 通知申请人补正材料：户口簿复印件"})


class ResumeRequest(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


class ExtendRequest(Schema):
    working_days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class RuleSetRequest(Schema):
    process_key = fields.String(required=True)


def _visible_instance(instance_id: int) -> ProcessInstance:
    user = current_user()
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or not access.can_see_instance(user, instance):
        raise NotFound("流程实例不存在")
    return instance


def _deadlines_of(instance: ProcessInstance) -> dict:
    return instance_deadlines(db.session, engine().calendar, instance, engine().now())


@bp.post("/tasks/<int:task_id>/urge")
@roles_required(*URGE_ROLES)
@doc(body=UrgeRequest, tag="deadlines", responses={201: "urged", 409: "task already closed"})
def urge(task_id: int):
    """催办: press the assignee (or the group) of an open task; recorded on the case history, event task.urged."""
    user = current_user()
    task = db.session.get(HumanTask, task_id)
    if task is None or not access.can_see_task(user, task):
        raise NotFound("任务不存在")
    body = load(UrgeRequest(), json_body())
    event = deadlines().urge(task_id, actor=user.username, message=body["message"])
    return jsonify(event_item(event)), 201


@bp.get("/process-instances/<int:instance_id>/deadlines")
@doc(tag="deadlines")
def show_deadlines(instance_id: int):
    """An instance's whole time limit, every task's due, reminder and escalation state, and its deadline events."""
    return jsonify(_deadlines_of(_visible_instance(instance_id)))


def _acting_on(instance_id: int, roles: tuple[str, ...]) -> tuple:
    user = current_user()
    instance = _visible_instance(instance_id)
    if user.role not in roles and user.role != "admin":
        raise Forbidden("当前角色无权执行此操作")
    return user, instance


@bp.post("/process-instances/<int:instance_id>/pause")
@doc(body=PauseRequest, tag="deadlines", responses={409: "already paused or finished"})
def pause(instance_id: int):
    """Stop the case's clocks while it waits on the applicant (补正材料); every time limit stands still."""
    user, instance = _acting_on(instance_id, PAUSE_ROLES)
    body = load(PauseRequest(), json_body())
    deadlines().pause(instance.id, actor=user.username, reason=body["reason"])
    db.session.expire_all()
    return jsonify(_deadlines_of(_visible_instance(instance_id)))


@bp.post("/process-instances/<int:instance_id>/resume")
@doc(body=ResumeRequest, tag="deadlines", responses={409: "not paused"})
def resume(instance_id: int):
    """Restart the clocks: due dates move later by the working days the pause covered."""
    user, instance = _acting_on(instance_id, PAUSE_ROLES)
    body = load(ResumeRequest(), json_body())
    deadlines().resume(instance.id, actor=user.username, reason=body["reason"])
    db.session.expire_all()
    return jsonify(_deadlines_of(_visible_instance(instance_id)))


@bp.post("/process-instances/<int:instance_id>/extend")
@doc(body=ExtendRequest, tag="deadlines", responses={409: "no whole time limit", 422: "beyond the maximum"})
def extend(instance_id: int):
    """Extend the whole time limit (e.g. 30 → 45 working days in special cases, 2021 rules) with a reason."""
    user, instance = _acting_on(instance_id, EXTEND_ROLES)
    body = load(ExtendRequest(), json_body())
    deadlines().extend(instance.id, body["working_days"], actor=user.username, reason=body["reason"])
    db.session.expire_all()
    return jsonify(_deadlines_of(_visible_instance(instance_id)))


@bp.get("/rule-sets")
@doc(tag="deadlines")
def list_rule_sets():
    """The rule sets each program offers (低保: 2012 or 2021 procedure) and what each district has chosen."""
    user = current_user()
    chosen = db.session.scalars(select(rulesets.DistrictRuleSet)).all()
    return jsonify({
        "programs": [{"program": program, "name": PROGRAMS[program].name, "default": options[0].process_key,
                      "choices": [{"process_key": r.process_key, "name": r.name, "basis": r.basis}
                                  for r in options]}
                     for program, options in rulesets.RULE_SETS.items()],
        "districts": [{"district": row.district, "program": row.program, "process_key": row.process_key,
                       "updated_at": iso(row.updated_at), "updated_by": row.updated_by}
                      for row in chosen if user.role == "admin" or row.district == user.district],
    })


@bp.put("/rule-sets/<district>/<program>")
@roles_required("admin")
@doc(body=RuleSetRequest, tag="deadlines")
def choose_rule_set(district: str, program: str):
    """Choose the rule set a district's new cases of a program start with; running cases keep theirs."""
    user = current_user()
    body = load(RuleSetRequest(), json_body())
    known = db.session.scalars(select(Jurisdiction).where(Jurisdiction.level == "district",
                                                          Jurisdiction.name == district)).first()
    if known is None:
        raise InvalidInput("区县不存在", {"district": [f"未知区县：{district}"]})
    if not db.session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == body["process_key"])
                             .limit(1)):
        raise InvalidInput("该规程的流程尚未部署", {"process_key": [f"流程 {body['process_key']} 尚未部署"]})
    try:
        row = rulesets.choose(db.session, district, program, body["process_key"], actor=user.username,
                              now=engine().now())
    except ValueError as exc:
        raise InvalidInput(str(exc), {"process_key": [str(exc)]}) from exc
    db.session.commit()
    return jsonify({"district": row.district, "program": row.program, "process_key": row.process_key,
                    "updated_at": iso(row.updated_at), "updated_by": row.updated_by})

from __future__ import annotations

from flask import Blueprint, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, select

from engine.clock import SHANGHAI
from engine.errors import Conflict, NotFound
from engine.models import AuditEntry, HumanTask, TaskStatus
from workflows import access
from workflows.aid.queries import household_aid
from workflows.cases import CaseSchema, open_case
from workflows.idcard import mask_id_number
from workflows.models import Case, CaseStatus
from workflows.register.queries import recipient_for_case
from workflows.tasks.operations import CaseOperations

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, load, query
from .tasks import task_item

bp = Blueprint("api_cases", __name__, url_prefix=f"{API_PREFIX}/cases")


class CaseQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in CaseStatus]))
    program = fields.String(load_default=None)
    street = fields.String(load_default=None)
    community = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class ObjectionRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))
    reporter = fields.String(load_default=None, validate=validate.Length(max=100))
    contact = fields.String(load_default=None, validate=validate.Length(max=100))


class WithdrawRequest(Schema):
    reason = fields.String(required=True)


def operations() -> CaseOperations:
    return CaseOperations(db.session, engine(), current_user())


def _money(value):
    return float(value) if value is not None else None


def case_item(case: Case) -> dict:
    return {
        "id": case.id,
        "program": case.program,
        "status": case.status.value,
        "stage": case.stage,
        "district": case.district,
        "street": case.street,
        "community": case.community,
        "applicant_name": case.applicant_name,
        "applicant_id_number": mask_id_number(case.applicant_id_number),
        "household_size": case.household_size,
        "proposed_amount": _money(case.proposed_amount),
        "amount": _money(case.amount),
        "process_instance_id": case.process_instance_id,
        "created_at": iso(case.created_at),
        "decided_at": iso(case.decided_at),
    }


def history_of(instance_id: int | None) -> list[dict]:
    if instance_id is None:
        return []
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.instance_id == instance_id).order_by(AuditEntry.id)
    ).all()
    return [{"at": iso(e.at), "actor": e.actor, "action": e.action, "step": e.element_name,
             "element_id": e.element_id, "opinion": e.opinion, "detail": e.detail} for e in entries]


def visible_case(case_id: int) -> Case:
    user = current_user()
    case = db.session.get(Case, case_id)
    if case is None or not access.can_see_case(user, case):
        raise NotFound("案件不存在")
    return case


@bp.post("")
@doc(body=CaseSchema, tag="cases", responses={201: "case opened", 422: "field errors"})
def create():
    """Open a case: validates ID numbers (18 digits, checksum) and starts the program's process."""
    user = current_user()
    case = open_case(db.session, engine(), json_body(), user)
    return jsonify({"id": case.id, "status": case.status.value, "stage": case.stage,
                    "process_instance_id": case.process_instance_id}), 201


@bp.get("")
@doc(params=CaseQuery, tag="cases")
def index():
    """Cases in my jurisdiction, newest first, with filters."""
    user = current_user()
    q = query(CaseQuery())
    conditions = [access.case_filter(user)]
    for name in ("status", "program", "street", "community"):
        if q[name]:
            conditions.append(getattr(Case, name) == q[name])
    rows = db.session.scalars(
        select(Case).where(and_(*conditions)).order_by(Case.id.desc()).limit(q["limit"]).offset(q["offset"])
    ).all()
    return jsonify({"items": [case_item(c) for c in rows], "limit": q["limit"], "offset": q["offset"]})


@bp.get("/<int:case_id>")
@doc(tag="cases")
def show(case_id: int):
    """One case: household (ID numbers masked), status, stage, open tasks, amount and full history."""
    case = visible_case(case_id)
    body = case_item(case)
    household = dict(case.household)
    household["members"] = [dict(m, id_number=mask_id_number(m["id_number"])) for m in household["members"]]
    body["household"] = household
    body["declared_monthly_income"] = _money(case.declared_monthly_income)
    body["relatives_filed"] = case.relatives_filed
    body["objected"] = case.objected
    body["spot_checked"] = case.spot_checked
    body["refusal_reason"] = case.refusal_reason
    body["notice_until"] = iso(case.notice_until)
    tasks = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == case.process_instance_id,
                                HumanTask.status == TaskStatus.OPEN)
    ).all() if case.process_instance_id else []
    body["tasks"] = [task_item(t) for t in tasks]
    body["history"] = history_of(case.process_instance_id)
    recipient = recipient_for_case(db.session, case.id)
    body["recipient_id"] = recipient.id if recipient is not None else None
    # The household's current and past aid from every program and agency (救助信息共享), by member ID number.
    body["aid_record"] = household_aid(db.session, case, engine().now().astimezone(SHANGHAI).date())
    return jsonify(body)


@bp.post("/<int:case_id>/objections")
@doc(body=ObjectionRequest, tag="cases", responses={201: "objection recorded", 409: "not in public notice"})
def objection(case_id: int):
    """Lodge an objection (异议) during the public notice; the case goes back to re-investigation."""
    user = current_user()
    case = visible_case(case_id)
    body = load(ObjectionRequest(), json_body())
    if case.process_instance_id is None or case.status != CaseStatus.IN_PROGRESS:
        raise Conflict("案件不在公示期")
    try:
        engine().send_message(case.process_instance_id, "objection.lodged",
                              {"reason": body["reason"], "reporter": body["reporter"],
                               "recorded_by": user.username}, actor=user.username)
    except Conflict as exc:
        raise Conflict("案件不在公示期，无法提出异议") from exc
    db.session.expire_all()
    return jsonify(case_item(db.session.get(Case, case_id))), 201


@bp.post("/<int:case_id>/withdraw")
@doc(body=WithdrawRequest, tag="cases", responses={403: "not the applicant's side", 409: "already decided or ended",
                                                   422: "no reason"})
def withdraw(case_id: int):
    """撤回: who lodged the case (or a street clerk of its street) withdraws it before the decision, with a reason."""
    body = load(WithdrawRequest(), json_body())
    return jsonify(case_item(operations().withdraw(case_id, body["reason"])))


@bp.post("/<int:case_id>/read")
@doc(tag="cases")
def read(case_id: int):
    """已阅: mark the copies (抄送) of this case to me as read → `{marked}` (0 when nothing was unread)."""
    return jsonify({"marked": operations().mark_read(case_id)})

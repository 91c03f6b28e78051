"""`/api/v1/tasks`: the inbox and every task action, each one call of ``workflows.tasks.TaskService``.

The views parse (query strings and JSON bodies by type), call the service and shape the answer; the rules —
who may act, form validation, the household table, lengths — live in the service, the same one the staff pages
call.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, select

from engine.models import HumanTask
from workflows.forms.designed_store import form_for_task, form_json
from workflows.idcard import mask_id_number
from workflows.income import flags_of_task
from workflows.listener import case_id_of
from workflows.models import Attachment, Case, TaskDraft
from workflows.tasks import TaskService
from workflows.tasks.household import masked_members, members_on_file
from workflows.tasks.inbox import by_due, task_conditions

from ..auth import current_user
from ..downloads import attachment_folder, send_attachment
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, load, query

bp = Blueprint("api_tasks", __name__, url_prefix=f"{API_PREFIX}/tasks")


class TaskQuery(Schema):
    view = fields.String(load_default="all", validate=validate.OneOf(["mine", "group", "todo", "all"]))
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "done"]))
    overdue = fields.Boolean(load_default=False)
    case_id = fields.Integer(load_default=None)
    process_instance_id = fields.Integer(load_default=None)
    sort = fields.String(load_default="due_at", validate=validate.OneOf(["due_at", "created_at", "-created_at"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class CompleteRequest(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict)
    # 受理 and 入户调查 only: the corrected household table (rows as in `household.members` of GET /tasks/{id};
    # `key` names the member a row edits, and its masked ID number stands for the stored one). Omit: unchanged.
    members = fields.List(fields.Raw(), load_default=None, validate=validate.Length(max=30))


class CommentRequest(Schema):
    text = fields.String(required=True)


class HandOverRequest(Schema):
    to = fields.String(required=True)
    reason = fields.String(load_default=None)


class TaskReturnRequest(Schema):
    to = fields.String(required=True)
    reason = fields.String(required=True)


class TaskDraftRequest(Schema):
    data = fields.Dict(keys=fields.String(), required=True)


class TakeBackRequest(Schema):
    reason = fields.String(load_default=None)


class SignRequest(Schema):
    decision = fields.String(required=True)
    opinion = fields.String(load_default=None)


class AddSignersRequest(Schema):
    users = fields.List(fields.String(validate=validate.Length(min=1, max=100)), required=True)
    where = fields.String(required=True)


class RemoveSignerRequest(Schema):
    user = fields.String(required=True)


class TaskCopyRequest(Schema):
    to = fields.List(fields.String(validate=validate.Length(min=1, max=100)), required=True,
                     validate=validate.Length(min=1, max=20))
    note = fields.String(load_default=None)


def service() -> TaskService:
    return TaskService(db.session, engine(), current_user())


def task_item(t: HumanTask, now=None) -> dict:
    now = now or engine().now()
    return {
        "id": t.id,
        "case_id": case_id_of(t.business_key),
        "process_instance_id": t.instance_id,
        "name": t.name,
        "element_id": t.element_id,
        "role": t.role,
        "agency": t.agency,
        "delegated_by": t.delegated_by,
        "district": t.district,
        "street": t.street,
        "community": t.community,
        "assignee": t.assignee,
        "status": t.status.value,
        "form_key": t.form_key,
        "created_at": iso(t.created_at),
        "claimed_at": iso(t.claimed_at),
        "completed_at": iso(t.completed_at),
        "completed_by": t.completed_by,
        "due_at": iso(t.due_at),
        # A paused task (the case waits on the applicant) is not late: its clock is stopped.
        "overdue": t.is_overdue(now),
    }


def case_summary(case: Case | None) -> dict | None:
    if case is None:
        return None
    return {
        "id": case.id,
        "program": case.program,
        "applicant_name": case.applicant_name,
        "applicant_id_number": mask_id_number(case.applicant_id_number),
        "street": case.street,
        "community": case.community,
        "household_size": case.household_size,
        "declared_monthly_income": float(case.declared_monthly_income),
        "proposed_amount": float(case.proposed_amount) if case.proposed_amount is not None else None,
        "stage": case.stage,
        "status": case.status.value,
    }


def attachment_item(row: Attachment) -> dict:
    return {"id": row.id, "case_id": row.case_id, "task_id": row.task_id, "step": row.element_name,
            "name": row.original_name, "content_type": row.content_type, "size": row.size, "sha256": row.sha256,
            "uploaded_by": row.uploaded_by, "uploaded_at": iso(row.uploaded_at)}


def _draft_item(draft: TaskDraft | None) -> dict:
    if draft is None:
        return {"data": None, "saved_by": None, "saved_at": None}
    data = dict(draft.data)
    members = data.get("__members")
    if isinstance(members, list):  # the page's household table: ID numbers typed for new members are masked
        data["__members"] = masked_members(members)
    return {"data": data, "saved_by": draft.saved_by, "saved_at": iso(draft.saved_at)}


@bp.get("")
@doc(params=TaskQuery, tag="tasks")
def index():
    """The inbox: my tasks, my group's claimable tasks, both (`todo`), or all I may see."""
    q = query(TaskQuery())
    now = engine().now()
    conditions = task_conditions(current_user(), view=q["view"], status=q["status"], overdue=q["overdue"], now=now)
    if q["case_id"] is not None:
        conditions.append(HumanTask.business_key == f"case:{q['case_id']}")
    if q["process_instance_id"] is not None:
        conditions.append(HumanTask.instance_id == q["process_instance_id"])
    order = {
        "due_at": by_due(),
        "created_at": [HumanTask.created_at, HumanTask.id],
        "-created_at": [HumanTask.created_at.desc(), HumanTask.id.desc()],
    }[q["sort"]]
    rows = db.session.scalars(
        select(HumanTask).where(and_(*conditions)).order_by(*order).limit(q["limit"]).offset(q["offset"])
    ).all()
    return jsonify({"items": [task_item(t, now) for t in rows], "limit": q["limit"], "offset": q["offset"]})


@bp.get("/<int:task_id>")
@doc(tag="tasks")
def show(task_id: int):
    """One task with its form (key and JSON Schema), a summary of its case and, on 受理/入户调查, the household."""
    tasks = service()
    task = tasks.visible(task_id)
    case = tasks.case_of(task)
    body = task_item(task)
    schema = tasks.form_schema(task)
    designed = form_for_task(db.session, task)  # a designed form: its form-js schema, the version pinned
    body["form"] = {"key": tasks.form_key(task), "kind": "registered", "schema": schema} if designed is None else \
        {**form_json(designed), "json_schema": schema}
    body["case"] = case_summary(case)
    body["data"] = task.data
    body["return_targets"] = [{"element_id": t.element_id, "name": t.name} for t in tasks.return_targets(task)]
    answer = tasks.delegation_answer(task)  # 委派: what the delegate answered, once the task is back
    body["delegation_answer"] = None if answer is None else {
        "by": answer.actor, "at": iso(answer.at), "opinion": answer.opinion, "data": (answer.detail or {}).get("data")}
    body["can_take_back"] = tasks.can_take_back(task)
    body["signers"] = [signer_item(r) for r in tasks.signers_of(task)]  # 会签/或签/加签
    body["my_sign_turn"] = tasks.sign_turn(task) is not None
    if case is not None and tasks.edits_household(task):
        body["household"] = {"members": members_on_file(case)}
    if "flag_decisions" in schema["properties"]:  # the street review: the flags it must decide
        body["check_flags"] = flags_of_task(tasks.engine, db.session, task)
    return jsonify(body)


@bp.post("/<int:task_id>/claim")
@doc(tag="tasks", responses={409: "already claimed or completed"})
def claim(task_id: int):
    """Take a group task onto my desk."""
    return jsonify(task_item(service().claim(task_id)))


@bp.post("/<int:task_id>/unclaim")
@doc(tag="tasks")
def unclaim(task_id: int):
    """Put a claimed task back into the group's pool."""
    return jsonify(task_item(service().unclaim(task_id)))


@bp.post("/<int:task_id>/complete")
@doc(body=CompleteRequest, tag="tasks", responses={409: "already completed", 422: "form errors per field"})
def complete(task_id: int):
    """Complete a task with its form data (and, on 受理/入户调查, the corrected `members`) in one engine step."""
    body = load(CompleteRequest(), json_body())
    done = service().complete(task_id, body["data"], members=body["members"])
    now = engine().now()
    answer = task_item(done.task, now)
    answer["next_tasks"] = [task_item(t, now) for t in done.next_tasks]  # only those the caller may see
    answer["returned_to"] = done.returned_to  # 委派: the delegator the task went back to (the step is not done)
    answer["awaiting_signers"] = done.awaiting_signers  # 后加签: answer recorded, the after-signers sign next
    return jsonify(answer)


@bp.post("/<int:task_id>/comments")
@doc(body=CommentRequest, tag="tasks", responses={201: "added"})
def comment(task_id: int):
    """Add a comment to the task's case history."""
    body = load(CommentRequest(), json_body())
    entry = service().comment(task_id, body["text"])
    return jsonify({"id": entry.id, "at": iso(entry.at), "actor": entry.actor, "text": entry.opinion}), 201


def _hand_over(task_id: int, kind: str):
    body = load(HandOverRequest(), json_body())
    task, _target = service().hand_over(task_id, kind, body["to"], body["reason"])
    return jsonify(task_item(task))


@bp.post("/<int:task_id>/transfer")
@doc(body=HandOverRequest, tag="tasks")
def transfer(task_id: int):
    """转办: hand the task to a colleague with the same role and jurisdiction."""
    return _hand_over(task_id, "transferred")


@bp.post("/<int:task_id>/delegate")
@doc(body=HandOverRequest, tag="tasks")
def delegate(task_id: int):
    """委派: ask a colleague with the same role and jurisdiction to do the task for me."""
    return _hand_over(task_id, "delegated")


@bp.post("/<int:task_id>/return")
@doc(body=TaskReturnRequest, tag="tasks", responses={409: "no longer open", 422: "no reason, or not an earlier step"})
def send_back(task_id: int):
    """退回: send the task back to an earlier step (`to`: its element id, see `return_targets`) with a reason."""
    body = load(TaskReturnRequest(), json_body())
    result = service().send_back(task_id, body["to"], body["reason"])
    return jsonify({"returned": task_item(result.returned),
                    "task": task_item(result.reopened) if result.reopened is not None else None})


@bp.post("/<int:task_id>/take-back")
@doc(body=TakeBackRequest, tag="tasks", responses={409: "the next step was opened, done or the flow moved on"})
def take_back(task_id: int):
    """拿回: take back a task I completed while the next step is unopened; answers the re-opened task (mine)."""
    body = load(TakeBackRequest(), json_body())
    return jsonify(task_item(service().take_back(task_id, body["reason"])))


def signer_item(row) -> dict:
    return {"user": row.username, "phase": row.phase.value, "mode": row.mode.value, "position": row.position,
            "status": row.status.value, "opinion": row.opinion, "asked_at": iso(row.asked_at),
            "acted_at": iso(row.acted_at), "added_by": row.added_by}


def _with_signers(task: HumanTask) -> dict:
    return {**task_item(task), "signers": [signer_item(r) for r in service().signers_of(task)]}


@bp.post("/<int:task_id>/sign")
@doc(body=SignRequest, tag="tasks", responses={403: "not a signer of the task", 409: "not your turn, already signed",
                                               422: "decision or opinion"})
def sign(task_id: int):
    """签批 (会签/或签/依次/加签): `decision` agree|reject, `opinion` required to reject; may complete the task."""
    body = load(SignRequest(), json_body())
    return jsonify(_with_signers(service().sign(task_id, body["decision"], body["opinion"])))


@bp.post("/<int:task_id>/add-signers")
@doc(body=AddSignersRequest, tag="tasks", responses={409: "the task waits for signers or is done",
                                                     422: "unknown, inactive, self, duplicate or over 10 users"})
def add_signers(task_id: int):
    """加签: the holder adds signers `before` (they sign first) or `after` (they sign the holder's answer)."""
    body = load(AddSignersRequest(), json_body())
    return jsonify(_with_signers(service().add_signers(task_id, body["users"], body["where"])))


@bp.post("/<int:task_id>/remove-signer")
@doc(body=RemoveSignerRequest, tag="tasks", responses={409: "the signer has acted", 422: "not a signer"})
def remove_signer(task_id: int):
    """减签: the holder removes a pending signer who has not acted."""
    body = load(RemoveSignerRequest(), json_body())
    return jsonify(_with_signers(service().remove_signer(task_id, body["user"])))


@bp.get("/<int:task_id>/draft")
@doc(tag="tasks")
def draft(task_id: int):
    """The task's saved draft (`data` is null when there is none)."""
    return jsonify(_draft_item(service().draft(task_id)))


@bp.put("/<int:task_id>/draft")
@doc(body=TaskDraftRequest, tag="tasks", responses={409: "no longer open"})
def save_draft(task_id: int):
    """Save form values as a draft (not validated; at most 64 KB); completing the task drops it."""
    body = load(TaskDraftRequest(), json_body())
    return jsonify(_draft_item(service().save_draft(task_id, body["data"])))


@bp.delete("/<int:task_id>/draft")
@doc(tag="tasks", responses={204: "dropped"})
def drop_draft(task_id: int):
    """Throw the task's draft away."""
    service().drop_draft(task_id)
    return "", 204


@bp.get("/<int:task_id>/attachments")
@doc(tag="tasks")
def attachments(task_id: int):
    """The attachments of the task's case."""
    return jsonify({"items": [attachment_item(a) for a in service().attachments(task_id)]})


@bp.post("/<int:task_id>/attachments")
@doc(tag="tasks", responses={201: "stored", 413: "over 16 MB", 422: "too large, wrong type or content"})
def upload_attachment(task_id: int):
    """Attach a file (multipart `file`): PDF, JPG, PNG, doc(x), xls(x), at most 10 MB, type checked by content."""
    upload = request.files.get("file")
    row = service().attach(task_id, attachment_folder(), upload.stream if upload else None,
                           upload.filename if upload else None)
    return jsonify(attachment_item(row)), 201


@bp.get("/<int:task_id>/attachments/<int:attachment_id>")
@doc(tag="tasks")
def download_attachment(task_id: int, attachment_id: int):
    """Download one attachment of the task's case (only for those who may see the case)."""
    return send_attachment(service().attachment(task_id, attachment_id))


@bp.post("/<int:task_id>/copies")
@doc(body=TaskCopyRequest, tag="tasks", responses={201: "copied", 422: "a recipient may not see the case"})
def copy(task_id: int):
    """抄送: copy the task's case to colleagues who may see it (it shows in their 抄送我的)."""
    body = load(TaskCopyRequest(), json_body())
    rows = service().copy(task_id, body["to"], body["note"])
    return jsonify({"items": [{"id": r.id, "case_id": r.case_id, "recipient": r.recipient,
                               "created_at": iso(r.created_at)} for r in rows]}), 201

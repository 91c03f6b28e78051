from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, send_file
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, select

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import HumanTask, TaskStatus
from engine.returns import return_targets
from workflows import access, copies, taskwork
from workflows import attachments as attachment_store
from workflows.forms import FORMS, FormError, json_schema, validate_form
from workflows.listener import case_id_of
from workflows.models import Attachment, Case, TaskDraft, User

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, load, query

bp = Blueprint("api_tasks", __name__, url_prefix=f"{API_PREFIX}/tasks")


class TaskQuery(Schema):
    view = fields.String(load_default="all", validate=validate.OneOf(["mine", "group", "all"]))
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "done"]))
    overdue = fields.Boolean(load_default=False)
    case_id = fields.Integer(load_default=None)
    process_instance_id = fields.Integer(load_default=None)
    sort = fields.String(load_default="due_at", validate=validate.OneOf(["due_at", "created_at", "-created_at"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class CompleteRequest(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict)


class CommentRequest(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class HandOverRequest(Schema):
    to = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


def task_item(t: HumanTask, now=None) -> dict:
    now = now or engine().now()
    return {
        "id": t.id,
        "case_id": case_id_of(t.business_key),
        "process_instance_id": t.instance_id,
        "name": t.name,
        "element_id": t.element_id,
        "role": t.role,
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


def visible_task(task_id: int) -> HumanTask:
    user = current_user()
    task = db.session.get(HumanTask, task_id)
    # Another jurisdiction's task answers exactly like a missing one: its existence is not disclosed.
    if task is None or not access.can_see_task(user, task):
        raise NotFound("任务不存在")
    return task


@bp.get("")
@doc(params=TaskQuery, tag="tasks")
def index():
    """The inbox: my tasks, my group's claimable tasks in my jurisdiction, or all I may see."""
    user = current_user()
    q = query(TaskQuery())
    now = engine().now()
    conditions = []
    if q["status"] == "open":
        conditions.append(HumanTask.status == TaskStatus.OPEN)
    else:
        conditions.append(HumanTask.status == TaskStatus.COMPLETED)
    if q["view"] == "mine":
        conditions.append(HumanTask.assignee == user.username if q["status"] == "open"
                          else HumanTask.completed_by == user.username)
    elif q["view"] == "group":
        conditions += [access.group_tasks_filter(user), HumanTask.assignee.is_(None)]
    else:
        conditions.append(access.visible_tasks_filter(user))
    if q["overdue"]:
        conditions.append(HumanTask.overdue_condition(now))
    if q["case_id"] is not None:
        conditions.append(HumanTask.business_key == f"case:{q['case_id']}")
    if q["process_instance_id"] is not None:
        conditions.append(HumanTask.instance_id == q["process_instance_id"])
    order = {
        "due_at": [HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id],
        "created_at": [HumanTask.created_at, HumanTask.id],
        "-created_at": [HumanTask.created_at.desc(), HumanTask.id.desc()],
    }[q["sort"]]
    rows = db.session.scalars(
        select(HumanTask).where(and_(*conditions)).order_by(*order).limit(q["limit"]).offset(q["offset"])
    ).all()
    return jsonify({"items": [task_item(t, now) for t in rows], "limit": q["limit"], "offset": q["offset"]})


def case_summary(case: Case | None) -> dict | None:
    from workflows.idcard import mask_id_number

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


@bp.get("/<int:task_id>")
@doc(tag="tasks")
def show(task_id: int):
    """One task with its form (key and JSON Schema) and a summary of its case."""
    task = visible_task(task_id)
    form_key = task.form_key if task.form_key in FORMS else "generic"
    case_id = case_id_of(task.business_key)
    body = task_item(task)
    body["form"] = {"key": form_key, "schema": json_schema(form_key)}
    body["case"] = case_summary(db.session.get(Case, case_id) if case_id else None)
    body["data"] = task.data
    body["return_targets"] = _return_targets(task)
    return jsonify(body)


def _workable(task_id: int) -> tuple[User, HumanTask]:
    user = current_user()
    task = visible_task(task_id)
    if task.status != TaskStatus.OPEN:
        raise Conflict("该任务已办结")
    if task.assignee and task.assignee != user.username:
        raise Conflict(f"该任务已由 {task.assignee} 认领")
    if not access.can_work_task(user, task):
        raise Forbidden("该任务不属于您的岗位或辖区")
    return user, task


@bp.post("/<int:task_id>/claim")
@doc(tag="tasks", responses={409: "already claimed or completed"})
def claim(task_id: int):
    """Take a group task onto my desk."""
    user, task = _workable(task_id)
    return jsonify(task_item(engine().claim(task.id, user.username)))


@bp.post("/<int:task_id>/unclaim")
@doc(tag="tasks")
def unclaim(task_id: int):
    """Put a claimed task back into the group's pool."""
    user = current_user()
    task = visible_task(task_id)
    return jsonify(task_item(engine().unclaim(task.id, user.username, force=user.role == "admin")))


@bp.post("/<int:task_id>/complete")
@doc(body=CompleteRequest, tag="tasks", responses={409: "already completed", 422: "form errors per field"})
def complete(task_id: int):
    """Complete a task with its form data; reviews carry `decision` and `opinion` (required to reject)."""
    user, task = _workable(task_id)
    body = load(CompleteRequest(), json_body())
    form_key = task.form_key if task.form_key in FORMS else "generic"
    try:
        data = validate_form(form_key, body["data"])
    except FormError as exc:
        raise InvalidInput("表单填写有误", exc.fields) from exc
    decision = data.get("decision")
    created = engine().complete_task(task.id, actor=user.username, data=data, opinion=data.get("opinion"),
                                     outcome=decision if isinstance(decision, str) else None)
    now = engine().now()
    body = task_item(task, now)
    # What the step put on desks next — only those the caller may see.
    body["next_tasks"] = [task_item(t, now) for t in created if access.can_see_task(user, t)]
    return jsonify(body)


@bp.post("/<int:task_id>/comments")
@doc(body=CommentRequest, tag="tasks", responses={201: "added"})
def comment(task_id: int):
    """Add a comment to the task's case history."""
    user = current_user()
    task = visible_task(task_id)
    body = load(CommentRequest(), json_body())
    entry = engine().comment(task.id, user.username, body["text"])
    return jsonify({"id": entry.id, "at": iso(entry.at), "actor": entry.actor, "text": entry.opinion}), 201


def _hand_over(task_id: int, action: str):
    user, task = _workable(task_id)
    body = load(HandOverRequest(), json_body())
    task = copies.hand_over(db.session, engine(), user=user, task=task, action=action, to=body["to"],
                            reason=body["reason"])
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


# -- return (退回), drafts, attachments, copies (抄送): the same services the staff pages use ---------------------


class TaskReturnRequest(Schema):
    to = fields.String(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class TaskDraftRequest(Schema):
    data = fields.Dict(keys=fields.String(), required=True)


class TaskCopyRequest(Schema):
    to = fields.List(fields.String(validate=validate.Length(min=1, max=100)), required=True,
                     validate=validate.Length(min=1, max=20))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


def _return_targets(task: HumanTask) -> list[dict]:
    if task.status != TaskStatus.OPEN:
        return []
    return [{"element_id": t.element_id, "name": t.name} for t in return_targets(engine(), task.id)]


def _case_of(task: HumanTask) -> Case:
    case_id = case_id_of(task.business_key)
    case = db.session.get(Case, case_id) if case_id else None
    if case is None or not access.can_see_case(current_user(), case):
        raise NotFound("该任务不属于任何案件")
    return case


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
        data["__members"] = taskwork.masked_members(members)
    return {"data": data, "saved_by": draft.saved_by, "saved_at": iso(draft.saved_at)}


@bp.post("/<int:task_id>/return")
@doc(body=TaskReturnRequest, tag="tasks", responses={409: "no longer open", 422: "no reason, or not an earlier step"})
def send_back(task_id: int):
    """退回: send the task back to an earlier step (`to`: its element id, see `return_targets`) with a reason."""
    user, task = _workable(task_id)
    body = load(TaskReturnRequest(), json_body())
    reopened = taskwork.send_back(db.session, engine(), user=user, task=task, to=body["to"], reason=body["reason"])
    db.session.expire_all()
    returned = db.session.get(HumanTask, task.id)
    return jsonify({"returned": task_item(returned),
                    "task": task_item(reopened) if reopened is not None else None})


@bp.get("/<int:task_id>/draft")
@doc(tag="tasks")
def draft(task_id: int):
    """The task's saved draft (`data` is null when there is none)."""
    task = visible_task(task_id)
    return jsonify(_draft_item(taskwork.get_draft(db.session, task.id)))


@bp.put("/<int:task_id>/draft")
@doc(body=TaskDraftRequest, tag="tasks", responses={409: "no longer open"})
def save_draft(task_id: int):
    """Save form values as a draft (not validated; at most 64 KB); completing the task drops it."""
    user, task = _workable(task_id)
    body = load(TaskDraftRequest(), json_body())
    return jsonify(_draft_item(taskwork.save_draft(db.session, task, user, body["data"], engine().now())))


@bp.delete("/<int:task_id>/draft")
@doc(tag="tasks", responses={204: "dropped"})
def drop_draft(task_id: int):
    """Throw the task's draft away."""
    _user, task = _workable(task_id)
    taskwork.drop_draft(db.session, task.id)
    return "", 204


@bp.get("/<int:task_id>/attachments")
@doc(tag="tasks")
def attachments(task_id: int):
    """The attachments of the task's case."""
    case = _case_of(visible_task(task_id))
    return jsonify({"items": [attachment_item(a) for a in attachment_store.of_case(db.session, case.id)]})


@bp.post("/<int:task_id>/attachments")
@doc(tag="tasks", responses={201: "stored", 413: "over 16 MB", 422: "too large, wrong type or content"})
def upload_attachment(task_id: int):
    """Attach a file (multipart `file`): PDF, JPG, PNG, doc(x), xls(x), at most 10 MB, type checked by content."""
    user, task = _workable(task_id)
    case = _case_of(task)
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("请选择要上传的文件", {"file": ["缺少 multipart 字段 file"]})
    folder = attachment_store.storage_folder(current_app.instance_path)
    now = engine().now()
    row = attachment_store.attach_to_task(db.session, folder, upload.stream, upload.filename, case=case,
                                          task=task, user=user.username, now=now)
    return jsonify(attachment_item(row)), 201


@bp.get("/<int:task_id>/attachments/<int:attachment_id>")
@doc(tag="tasks")
def download_attachment(task_id: int, attachment_id: int):
    """Download one attachment of the task's case (only for those who may see the case)."""
    case = _case_of(visible_task(task_id))
    row = db.session.get(Attachment, attachment_id)
    if row is None or row.case_id != case.id:
        raise NotFound("附件不存在")
    return send_attachment(row)


def send_attachment(row: Attachment):
    """The stored file as a download under its cleaned original name; never sniffed or run by the browser."""
    path = attachment_store.path_of(attachment_store.storage_folder(current_app.instance_path), row)
    if not path.exists():
        raise NotFound("附件文件已丢失，请联系管理员")
    response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.original_name,
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<int:task_id>/copies")
@doc(body=TaskCopyRequest, tag="tasks", responses={201: "copied", 422: "a recipient may not see the case"})
def copy(task_id: int):
    """抄送: copy the task's case to colleagues who may see it (it shows in their 抄送我的)."""
    user = current_user()
    task = visible_task(task_id)
    body = load(TaskCopyRequest(), json_body())
    rows = copies.copy_case(db.session, engine(), user=user, task=task, recipients=body["to"], note=body["note"])
    return jsonify({"items": [{"id": r.id, "case_id": r.case_id, "recipient": r.recipient,
                               "created_at": iso(r.created_at)} for r in rows]}), 201

"""The task page: the form from its schema, approve/reject, 退回, 转办/委派, 抄送, comments, attachments, drafts.

Every action is a CSRF-protected POST that either redirects back with a message or renders the page again with
the error next to its field. A task that moved on meanwhile (completed, returned or taken elsewhere) answers with
the page and a clear message (409), never a failure.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import AuditEntry, HumanTask, ProcessInstance, TaskStatus
from engine.returns import return_targets
from workflows import access, copies, taskwork
from workflows import attachments as attachment_store
from workflows.forms import FORMS, FormError, json_schema, validate_form
from workflows.idcard import mask_id_number
from workflows.listener import case_id_of
from workflows.models import Case, User

from ..api.common import engine
from ..extensions import db
from .common import login_required, page_user
from .widgets import (
    ACTORS,
    form_fields,
    local_time,
    parse_form,
    parse_member_rows,
    raw_from_data,
    register_filters,
    safe_next,
    zh,
)

bp = Blueprint("tasks_ui", __name__, url_prefix="/tasks")
register_filters(bp)

MEMBERS_KEY = "__members"


def _visible(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    # Another jurisdiction's task answers exactly like a missing one.
    if task is None or not access.can_see_task(page_user(), task):
        raise NotFound("任务不存在或您无权查看")
    return task


def _case_of(task: HumanTask) -> Case | None:
    case_id = case_id_of(task.business_key)
    case = db.session.get(Case, case_id) if case_id else None
    return case if case is not None and access.can_see_case(page_user(), case) else None


def _form_key(task: HumanTask) -> str:
    return task.form_key if task.form_key in FORMS else "generic"


def _state(user: User, task: HumanTask) -> str:
    if task.status != TaskStatus.OPEN:
        return "closed"
    if task.assignee == user.username:
        return "mine"
    if task.assignee:
        return "taken"
    return "claimable" if access.can_work_task(user, task) else "readonly"


def _closed_message(task: HumanTask) -> str:
    names = display_names([task.completed_by])
    who = names.get(task.completed_by or "", task.completed_by or "流程")
    when = local_time(task.completed_at)
    if task.status == TaskStatus.CANCELLED and task.outcome == "returned":
        return f"该任务已于 {when} 由 {who} 退回到前序环节"
    if task.status == TaskStatus.CANCELLED:
        return f"该任务已于 {when} 因流程变化而取消"
    return f"该任务已于 {when} 由 {who} 办结"


def display_names(usernames) -> dict[str, str]:
    wanted = {u for u in usernames if u}
    names = dict(ACTORS)
    if wanted:
        names.update((u.username, u.display_name)
                     for u in db.session.scalars(select(User).where(User.username.in_(wanted))))
    return names


def _members_for_form(case: Case | None, values: dict) -> list[dict]:
    if MEMBERS_KEY in values:
        return list(values[MEMBERS_KEY])
    if case is None:
        return []
    rows = []
    for index, member in enumerate(case.household.get("members") or []):
        row = {k: member.get(k) for k in ("name", "relation", "birth_date", "work_capacity", "disability_grade",
                                          "serious_illness")}
        row.update(key=str(index), id_number=mask_id_number(member.get("id_number") or ""))
        rows.append(row)
    return rows


def people_in(detail: dict | None) -> list[str]:
    """Usernames an audit entry's detail names (to, from, assignee; a copy's list of recipients)."""
    out: list[str] = []
    for key in ("to", "from", "assignee"):
        value = (detail or {}).get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))
    return out


def _submitted(fields, data: dict | None) -> list[tuple[str, str]]:
    out = []
    for f in fields:
        value = (data or {}).get(f.name)
        if value is None or value == "":
            continue
        if f.choices:
            key = ("true" if value else "false") if isinstance(value, bool) else str(value)
            text = dict(f.choices).get(key, str(value))
        elif isinstance(value, list):
            text = "、".join(str(v) for v in value)
        else:
            text = str(value)
        out.append((f.label, text))
    return out


def _render(task: HumanTask, *, values: dict | None = None, errors: dict | None = None, status: int = 200,
            stale: str | None = None, panel: str | None = None):
    user = page_user()
    case = _case_of(task)
    state = _state(user, task)
    form_key = _form_key(task)
    schema = json_schema(form_key)
    fields = form_fields(schema)
    draft = taskwork.get_draft(db.session, task.id) if state == "mine" else None
    source = None
    if values is None:
        if draft is not None:
            values, source = dict(draft.data), "draft"
        elif state in ("mine", "claimable") and (earlier := taskwork.earlier_submission(db.session, task)):
            values, source = raw_from_data(fields, earlier), "earlier"
        else:
            values = {}
    household_form = form_key in taskwork.HOUSEHOLD_FORMS and case is not None
    instance = db.session.get(ProcessInstance, task.instance_id)
    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.instance_id == task.instance_id).order_by(AuditEntry.id)
    ).all()
    opinions = [e for e in history if e.opinion and e.action in ("task_completed", "task_returned", "comment",
                                                                  "task_transferred", "task_delegated",
                                                                  "case_copied", "task_urged")]
    names = display_names([e.actor for e in history] + [task.assignee, task.completed_by]
                           + [u for e in history for u in people_in(e.detail)])
    now = engine().now()
    mine = state == "mine"
    context = {
        "task": task, "case": case, "state": state, "fields": fields, "schema": schema, "form_key": form_key,
        "values": values, "errors": errors or {}, "stale": stale, "panel": panel, "draft": draft,
        "source": source, "household_form": household_form,
        "members": _members_for_form(case, values) if household_form else [],
        "targets": return_targets(engine(), task.id) if mine else [],
        "colleagues": copies.colleagues_for(db.session, task, exclude=user.username) if mine else [],
        "readers": copies.case_readers(db.session, case, exclude=user.username) if mine and case else [],
        "attachments": attachment_store.of_case(db.session, case.id) if case else [],
        "accept": attachment_store.ACCEPT, "allowed_types": attachment_store.ALLOWED_TEXT,
        "max_mb": attachment_store.MAX_BYTES // (1024 * 1024), "human_size": attachment_store.human_size,
        "opinions": opinions, "names": names,
        "overdue": task.is_overdue(now),
        "masked_id": mask_id_number(case.applicant_id_number) if case else "",
        "instance": instance, "user": user,
        "submitted": _submitted(fields, task.data) if state == "closed" else [],
        "posted": request.form if request.method == "POST" and panel else {},
    }
    return render_template("tasks/show.html", **context), status


def _stale(task: HumanTask, message: str | None = None):
    db.session.expire_all()
    task = db.session.get(HumanTask, task.id)
    if task is None:
        raise NotFound("任务不存在")
    text = message or (_closed_message(task) if task.status != TaskStatus.OPEN else "任务状态已变化")
    if task.status != TaskStatus.OPEN:
        text = _closed_message(task) + "。您本次提交的内容未保存，请返回待办查看其他任务。"
    return _render(task, stale=text, status=409)


def _require_mine(task: HumanTask):
    """None when the user holds the task, else the page to answer with (stale or not yet claimed)."""
    user = page_user()
    state = _state(user, task)
    if state == "mine":
        return None
    if state == "closed":
        return _stale(task)
    if state == "taken":
        names = display_names([task.assignee])
        return _render(task, stale=f"该任务已由 {names.get(task.assignee or '', task.assignee)} 认领，您的操作未执行",
                       status=409)
    if state == "claimable":
        return _render(task, stale="请先认领该任务，再办理", status=409)
    return _render(task, stale="该任务不属于您的岗位或辖区，只能查看", status=403)


def _back(task: HumanTask, anchor: str = ""):
    return redirect(url_for("tasks_ui.show", task_id=task.id) + (f"#{anchor}" if anchor else ""))


def _zh_errors(fields: dict) -> dict[str, list[str]]:
    return {name: [zh(m) for m in (messages if isinstance(messages, list) else [messages])]
            for name, messages in fields.items()}


# -- pages and actions ------------------------------------------------------------------------------------------


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int):
    """The task page."""
    return _render(_visible(task_id))


@bp.post("/<int:task_id>")
@login_required
def submit(task_id: int):
    """The task's form: `action=complete` validates and completes it, `action=draft` keeps the values as typed."""
    task = _visible(task_id)
    if (answer := _require_mine(task)) is not None:
        return answer
    user = page_user()
    case = _case_of(task)
    fields = form_fields(json_schema(_form_key(task)))
    data, raw = parse_form(fields, request.form)
    household_form = _form_key(task) in taskwork.HOUSEHOLD_FORMS and case is not None
    rows = parse_member_rows(request.form) if household_form else []
    if household_form:
        raw[MEMBERS_KEY] = rows
    if request.form.get("action") == "draft":
        try:
            taskwork.save_draft(db.session, task, user, raw, engine().now())
        except InvalidInput as exc:
            return _render(task, values=raw, errors=_zh_errors(exc.fields), status=422)
        flash("草稿已保存", "success")
        return _back(task)
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    try:
        cleaned = validate_form(_form_key(task), data)
    except FormError as exc:
        errors.update(exc.fields)
    members: list[dict] = []
    if household_form and case is not None:
        members, member_errors = taskwork.validate_members(rows, case.household.get("members") or [])
        errors.update(_zh_errors(member_errors))
    if errors:
        return _render(task, values=raw, errors=errors, status=422)
    decision = cleaned.get("decision")
    try:
        if household_form:
            taskwork.apply_household(engine(), user=user, task=task, members=members)
        next_tasks = engine().complete_task(task.id, actor=user.username, data=cleaned,
                                            opinion=cleaned.get("opinion"),
                                            outcome=decision if isinstance(decision, str) else None)
    except Conflict as exc:
        return _stale(task, str(exc))
    created = [t for t in next_tasks if access.can_see_task(user, t)]
    following = "、".join(dict.fromkeys(t.name for t in created))
    flash(f"「{task.name}」已办结" + (f"，下一环节：{following}" if following else ""), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    """Take a group task onto my desk (from the inbox list or the task page)."""
    task = _visible(task_id)
    user = page_user()
    target = safe_next(request.form.get("next"))
    if task.status != TaskStatus.OPEN:
        flash(f"认领失败：{_closed_message(task)}", "error")
    elif task.assignee == user.username:
        flash(f"您已认领「{task.name}」", "info")
    elif task.assignee:
        flash(f"认领失败：该任务已由 {display_names([task.assignee]).get(task.assignee, task.assignee)} 认领",
              "error")
    elif not access.can_work_task(user, task):
        flash("该任务不属于您的岗位或辖区，不能认领", "error")
    else:
        try:
            engine().claim(task.id, user.username)
        except Conflict as exc:
            flash(f"认领失败：{exc}", "error")
        else:
            flash(f"已认领「{task.name}」", "success")
    return redirect(target or url_for("tasks_ui.show", task_id=task.id))


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):
    """Put a claimed task back into the group's pool."""
    task = _visible(task_id)
    try:
        engine().unclaim(task.id, page_user().username)
    except Conflict as exc:
        flash(f"操作失败：{exc}", "error")
    else:
        flash(f"已取消认领「{task.name}」，任务回到待认领列表", "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/return")
@login_required
def send_back(task_id: int):
    """退回: send the task back to an earlier step with a reason."""
    task = _visible(task_id)
    if (answer := _require_mine(task)) is not None:
        return answer
    to = (request.form.get("to") or "").strip()
    reason = (request.form.get("reason") or "").strip()
    errors = {}
    if not to:
        errors["return-to"] = ["请选择退回到哪个环节"]
    if not reason:
        errors["return-reason"] = ["退回须填写理由"]
    elif len(reason) > 2000:
        errors["return-reason"] = ["不能超过 2000 字"]
    if errors:
        return _render(task, errors=errors, status=422, panel="return")
    try:
        reopened = taskwork.send_back(db.session, engine(), user=page_user(), task=task, to=to, reason=reason)
    except InvalidInput as exc:
        return _render(task, errors={f"return-{k}": v for k, v in exc.fields.items()}, status=422, panel="return")
    except Conflict as exc:
        return _stale(task, str(exc))
    target = reopened.name if reopened is not None else to
    holder = ""
    if reopened is not None and reopened.assignee:
        holder = f"，由 {display_names([reopened.assignee]).get(reopened.assignee, reopened.assignee)} 重新办理"
    flash(f"已将「{task.name}」退回到「{target}」{holder}", "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/handover")
@login_required
def hand_over(task_id: int):
    """转办 or 委派 to a colleague with the same role and jurisdiction."""
    task = _visible(task_id)
    if (answer := _require_mine(task)) is not None:
        return answer
    kind = request.form.get("kind")
    if kind not in ("transferred", "delegated"):
        return _render(task, errors={"handover-kind": ["请选择转办或委派"]}, status=422, panel="handover")
    to = (request.form.get("to") or "").strip()
    if not to:
        return _render(task, errors={"handover-to": ["请选择接收人"]}, status=422, panel="handover")
    reason = (request.form.get("reason") or "").strip()
    if len(reason) > 2000:
        return _render(task, errors={"handover-reason": ["不能超过 2000 字"]}, status=422, panel="handover")
    try:
        copies.hand_over(db.session, engine(), user=page_user(), task=task, action=kind, to=to, reason=reason)
    except InvalidInput as exc:
        return _render(task, errors={f"handover-{k}": v for k, v in exc.fields.items()}, status=422,
                       panel="handover")
    except Conflict as exc:
        return _stale(task, str(exc))
    who = display_names([to]).get(to, to)
    flash(f"已将「{task.name}」{'转办' if kind == 'transferred' else '委派'}给 {who}，可在“抄送我的”中跟踪", "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/copy")
@login_required
def copy(task_id: int):
    """抄送: copy the case to colleagues who may see it."""
    task = _visible(task_id)
    if (answer := _require_mine(task)) is not None:
        return answer
    try:
        rows = copies.copy_case(db.session, engine(), user=page_user(), task=task,
                                recipients=request.form.getlist("to"), note=request.form.get("note"))
    except InvalidInput as exc:
        return _render(task, errors={f"copy-{k}": v for k, v in exc.fields.items()}, status=422, panel="copy")
    names = display_names([r.recipient for r in rows])
    flash(f"已抄送给 {'、'.join(names.get(r.recipient, r.recipient) for r in rows)}", "success")
    return _back(task, "copy")


@bp.post("/<int:task_id>/comment")
@login_required
def comment(task_id: int):
    """Add a comment to the case history."""
    task = _visible(task_id)
    text = (request.form.get("text") or "").strip()
    if not text:
        return _render(task, errors={"comment-text": ["请填写评论内容"]}, status=422, panel="comment")
    if len(text) > 2000:
        return _render(task, errors={"comment-text": ["不能超过 2000 字"]}, status=422, panel="comment")
    engine().comment(task.id, page_user().username, text)
    flash("评论已添加", "success")
    return _back(task, "comments")


UPLOAD_ENDPOINTS = {"tasks_ui.upload", "api_tasks.upload_attachment"}


@bp.before_app_request
def _limit_uploads():
    # Registered before CSRFProtect reads the form: an upload request may not be much larger than one attachment,
    # so an oversized body is refused (413) before it is spooled to disk.
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = attachment_store.MAX_BYTES + 512 * 1024


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    # Raised while the body is read (before the view), so only the URL tells which task it was for.
    flash(f"上传失败：文件过大，单个附件不能超过 {attachment_store.MAX_BYTES // (1024 * 1024)} MB", "error")
    task_id = (request.view_args or {}).get("task_id")
    return redirect(url_for("tasks_ui.show", task_id=task_id) + "#attachments" if task_id else url_for("inbox.index"))


@bp.post("/<int:task_id>/attachments")
@login_required
def upload(task_id: int):
    """Attach a file to the task's case (type and size limits in workflows.attachments)."""
    task = _visible(task_id)
    if (answer := _require_mine(task)) is not None:
        return answer
    case = _case_of(task)
    if case is None:
        return _render(task, errors={"attachment-file": ["该任务不属于任何案件，不能上传附件"]}, status=422,
                       panel="attachments")
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _render(task, errors={"attachment-file": ["请选择要上传的文件"]}, status=422, panel="attachments")
    user = page_user()
    folder = attachment_store.storage_folder(current_app.instance_path)
    now = engine().now()
    try:
        row = attachment_store.attach_to_task(db.session, folder, upload_file.stream, upload_file.filename,
                                              case=case, task=task, user=user.username, now=now)
    except InvalidInput as exc:
        return _render(task, errors={"attachment-file": exc.fields.get("file", [str(exc)])}, status=422,
                       panel="attachments")
    flash(f"附件「{row.original_name}」已上传", "success")
    return _back(task, "attachments")

"""The task page: the form from its schema, approve/reject, 退回, 转办/委派, 抄送, comments, attachments, drafts.

Every action is a CSRF-protected POST that calls one method of ``workflows.tasks.TaskService`` — the same the REST
API calls — and either redirects back with a message or renders the page again with the error next to its field.
A task that moved on meanwhile (completed, returned or taken elsewhere) answers with the page and a clear message
(409), never a failure.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.models import AuditEntry, HumanTask, ProcessInstance, TaskStatus
from workflows import attachments as attachment_store
from workflows.copies import case_readers
from workflows.idcard import mask_id_number
from workflows.income import (
    FLAG_DECISIONS,
    INCOME_TYPES,
    TREATMENTS,
    describe_decisions,
    describe_items,
    flags_of_task,
)
from workflows.messages import translate
from workflows.models import User
from workflows.tasks import TaskService
from workflows.tasks.handover import KINDS, colleagues_for
from workflows.tasks.household import members_on_file

from ..downloads import attachment_folder
from ..engine_access import engine
from ..extensions import db
from .common import login_required, page_user
from .form_parsing import form_fields, parse_form, parse_member_rows, raw_from_data
from .labels import ACTORS, local_time, register_filters
from .links import safe_next

bp = Blueprint("tasks_ui", __name__, url_prefix="/tasks")
register_filters(bp)

MEMBERS_KEY = "__members"
# Actions whose opinion or note is shown in the task page's 意见 list.
# 会签/加签: how the signers panel names phases and statuses.
SIGN_LABELS = {"countersign": "会签", "before": "前加签", "after": "后加签", "pending": "待签批", "agreed": "同意",
               "rejected": "不同意", "removed": "已减签", "skipped": "无需签批", "all": "会签", "any": "或签",
               "sequence": "依次签批"}
OPINION_ACTIONS = ("task_signed", "task_sign_answer_recorded", "task_completed", "task_returned", "comment", "task_transferred", "task_delegated",
                   "case_copied", "task_urged")


def service() -> TaskService:
    return TaskService(db.session, engine(), page_user())


def _closed_message(task: HumanTask) -> str:
    names = display_names([task.completed_by])
    who = names.get(task.completed_by or "", task.completed_by or "流程")
    when = local_time(task.completed_at)
    if task.status == TaskStatus.CANCELLED and task.outcome == "returned":
        return f"该任务已于 {when} 由 {who} 退回到前序环节"
    if task.status == TaskStatus.CANCELLED and task.outcome == "taken_back":
        return f"该任务已于 {when} 被上一环节办理人 {who} 拿回"
    if task.status == TaskStatus.CANCELLED and task.outcome == "terminated":
        return f"该任务已于 {when} 因案件撤回或流程终止而取消"
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


def people_in(detail: dict | None) -> list[str]:
    """Usernames an audit entry's detail names (to, from, assignee; a copy's list of recipients)."""
    out: list[str] = []
    for key in ("to", "from", "assignee", "on_behalf_of"):
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
        if f.kind == "income_items":
            text = describe_items(value)
        elif f.kind == "flag_decisions":
            text = describe_decisions(value)
        elif f.choices:
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
    tasks = service()
    user = tasks.user
    case = tasks.case_of(task)
    state = tasks.state(task)
    schema = tasks.form_schema(task)
    fields = form_fields(schema)
    draft = tasks.draft(task.id) if state == "mine" else None
    source = None
    # 委派: the delegate's answer, back on the delegator's desk, is the form's starting point (unless drafted since).
    answer = tasks.delegation_answer(task) if state == "mine" else None
    if answer is not None and draft is not None and draft.saved_at >= answer.at:
        answer = None
    if values is None:
        if answer is not None:
            values, source = raw_from_data(fields, (answer.detail or {}).get("data")), "delegated"
        elif draft is not None:
            values, source = dict(draft.data), "draft"
        elif state in ("mine", "claimable") and (earlier := tasks.earlier_submission(task)):
            values, source = raw_from_data(fields, earlier), "earlier"
        else:
            values = {}
    household_form = tasks.edits_household(task)
    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.instance_id == task.instance_id).order_by(AuditEntry.id)
    ).all()
    opinions = [e for e in history if e.opinion and e.action in OPINION_ACTIONS]
    names = display_names([e.actor for e in history] + [task.assignee, task.completed_by]
                           + [u for e in history for u in people_in(e.detail)])
    mine = state == "mine"
    context = {
        "task": task, "case": case, "state": state, "fields": fields, "schema": schema,
        "form_key": tasks.form_key(task), "values": values, "errors": errors or {}, "stale": stale, "panel": panel,
        "draft": draft, "source": source, "household_form": household_form, "answer": answer,
        "can_take_back": tasks.can_take_back(task) if state == "closed" else False,
        "members": (list(values[MEMBERS_KEY]) if MEMBERS_KEY in values else members_on_file(case))
        if household_form else [],
        "targets": tasks.return_targets(task) if mine else [],
        "colleagues": colleagues_for(db.session, task, exclude=user.username) if mine else [],
        "readers": case_readers(db.session, case, exclude=user.username) if mine and case else [],
        "attachments": attachment_store.of_case(db.session, case.id) if case else [],
        "accept": attachment_store.ACCEPT, "allowed_types": attachment_store.ALLOWED_TEXT,
        "max_mb": attachment_store.MAX_BYTES // (1024 * 1024), "human_size": attachment_store.human_size,
        "opinions": opinions, "names": names,
        "overdue": task.is_overdue(tasks.engine.now()),
        "masked_id": mask_id_number(case.applicant_id_number) if case else "",
        "instance": db.session.get(ProcessInstance, task.instance_id), "user": user,
        "submitted": _submitted(fields, task.data) if state == "closed" else [],
        "posted": request.form if request.method == "POST" and panel else {},
        # 收入认定: the survey's income table and the street review's flags (workflows.income).
        "check_flags": flags_of_task(tasks.engine, db.session, task)
        if any(f.kind == "flag_decisions" for f in fields) else [],
        "income_types": INCOME_TYPES, "treatments": TREATMENTS, "flag_choices": FLAG_DECISIONS,
        "member_names": [m.get("name") for m in (case.household.get("members") or [])] if case else [],
    }
    # 会签/加签 (workflows.tasks.signers): who signs, what they said, and the signer's own form when it is their turn.
    signers = tasks.signers_of(task)
    context.update(signers=signers, sign_turn=tasks.sign_turn(task) is not None, SIGN_LABELS=SIGN_LABELS,
                   countersign=any(r.phase == "countersign" for r in signers))
    names.update(display_names([r.username for r in signers]))
    return render_template("tasks/show.html", **context), status


def _stale(task: HumanTask, message: str | None = None):
    """The page again after the task moved on under the user: what happened, and that nothing was saved."""
    db.session.rollback()  # also expires what the session held: the task is read afresh
    task = service().visible(task.id)
    text = message or "任务状态已变化"
    if task.status != TaskStatus.OPEN:
        text = _closed_message(task) + "。您本次提交的内容未保存，请返回待办查看其他任务。"
    return _render(task, stale=text, status=409)


def _refused(task: HumanTask, exc: Conflict | Forbidden):
    """Why the user may not act on the task now, in words for this page."""
    tasks = service()
    state = tasks.state(task)
    if state == "closed":
        return _stale(task)
    if state == "taken":
        holder = display_names([task.assignee]).get(task.assignee or "", task.assignee)
        return _render(task, stale=f"该任务已由 {holder} 认领，您的操作未执行", status=409)
    if state == "claimable":
        return _render(task, stale="请先认领该任务，再办理", status=409)
    if isinstance(exc, Forbidden) or state == "readonly":
        return _render(task, stale="该任务不属于您的岗位或辖区，只能查看", status=403)
    return _stale(task, str(exc))


def _back(task: HumanTask, anchor: str = ""):
    return redirect(url_for("tasks_ui.show", task_id=task.id) + (f"#{anchor}" if anchor else ""))


def _zh_errors(fields: dict, prefix: str = "") -> dict[str, list[str]]:
    return {f"{prefix}{name}": [translate(m) for m in (messages if isinstance(messages, list) else [messages])]
            for name, messages in fields.items()}


def _act(task: HumanTask, action, *, panel: str | None = None, prefix: str = "", values: dict | None = None,
         claimed: bool = True):
    """Run one service call; a refusal or a field error answers with the page, else (None, the result).

    With `claimed`, the user must hold the task: the page shows a step's form and actions only after 认领, so a
    post for an unclaimed task comes from a stale page and is answered with what changed (the API, for scripts,
    lets an eligible user complete without claiming first).
    """
    if claimed and service().state(task) != "mine":
        return _refused(task, Conflict("请先认领该任务")), None
    try:
        return None, action()
    except InvalidInput as exc:
        return _render(task, values=values, errors=_zh_errors(exc.fields, prefix), status=422, panel=panel), None
    except (Conflict, Forbidden) as exc:
        return _refused(task, exc), None


# -- pages and actions ------------------------------------------------------------------------------------------


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int):
    """The task page."""
    return _render(service().visible(task_id))


@bp.post("/<int:task_id>")
@login_required
def submit(task_id: int):
    """The task's form: `action=complete` validates and completes it, `action=draft` keeps the values as typed."""
    tasks = service()
    task = tasks.visible(task_id)
    data, raw = parse_form(form_fields(tasks.form_schema(task)), request.form)
    members = None
    if tasks.edits_household(task):
        members = raw[MEMBERS_KEY] = parse_member_rows(request.form)
    if request.form.get("action") == "draft":
        answer, _ = _act(task, lambda: tasks.save_draft(task.id, raw), values=raw)
        if answer is not None:
            return answer
        flash("草稿已保存", "success")
        return _back(task)
    answer, done = _act(task, lambda: tasks.complete(task.id, data, members=members), values=raw)
    if answer is not None:
        return answer
    if done.returned_to:
        holder = display_names([done.returned_to]).get(done.returned_to, done.returned_to)
        flash(f"委派办理完毕，「{task.name}」已交还 {holder} 确认办理", "success")
        return redirect(url_for("inbox.index"))
    if done.awaiting_signers:
        flash(f"已提交「{task.name}」的办理意见，等待后加签人签批", "success")
        return redirect(url_for("inbox.index"))
    following = "、".join(dict.fromkeys(t.name for t in done.next_tasks))
    flash(f"「{task.name}」已办结" + (f"，下一环节：{following}" if following else ""), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int):
    """Take a group task onto my desk (from the inbox list or the task page)."""
    tasks = service()
    task = tasks.visible(task_id)
    target = safe_next(request.form.get("next"))
    state = tasks.state(task)
    if state == "closed":
        flash(f"认领失败：{_closed_message(task)}", "error")
    elif state == "mine":
        flash(f"您已认领「{task.name}」", "info")
    elif state == "taken":
        flash(f"认领失败：该任务已由 {display_names([task.assignee]).get(task.assignee, task.assignee)} 认领",
              "error")
    else:
        try:
            tasks.claim(task.id)
        except Forbidden:
            flash("该任务不属于您的岗位或辖区，不能认领", "error")
        except Conflict as exc:
            flash(f"认领失败：{exc}", "error")
        else:
            flash(f"已认领「{task.name}」", "success")
    return redirect(target or url_for("tasks_ui.show", task_id=task.id))


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):
    """Put a claimed task back into the group's pool."""
    tasks = service()
    task = tasks.visible(task_id)
    try:
        tasks.unclaim(task.id)
    except Conflict as exc:
        flash(f"操作失败：{exc}", "error")
    else:
        flash(f"已取消认领「{task.name}」，任务回到待认领列表", "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/return")
@login_required
def send_back(task_id: int):
    """退回: send the task back to an earlier step with a reason."""
    tasks = service()
    task = tasks.visible(task_id)
    answer, result = _act(task, lambda: tasks.send_back(task.id, request.form.get("to"), request.form.get("reason")),
                          panel="return", prefix="return-")
    if answer is not None:
        return answer
    reopened = result.reopened
    target = reopened.name if reopened is not None else request.form.get("to")
    holder = ""
    if reopened is not None and reopened.assignee:
        holder = f"，由 {display_names([reopened.assignee]).get(reopened.assignee, reopened.assignee)} 重新办理"
    flash(f"已将「{task.name}」退回到「{target}」{holder}", "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/handover")
@login_required
def hand_over(task_id: int):
    """转办 or 委派 to a colleague with the same role and jurisdiction."""
    tasks = service()
    task = tasks.visible(task_id)
    kind = request.form.get("kind")
    answer, result = _act(task, lambda: tasks.hand_over(task.id, kind, request.form.get("to"),
                                                        request.form.get("reason")),
                          panel="handover", prefix="handover-")
    if answer is not None:
        return answer
    _task, target = result
    flash(f"已将「{task.name}」{KINDS[kind]}给 {target.display_name}，可在“抄送我的”中跟踪", "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/take-back")
@login_required
def take_back(task_id: int):
    """拿回: take back a task I completed while the next step is unopened (the API's service call)."""
    tasks = service()
    task = tasks.visible(task_id)
    try:
        reopened = tasks.take_back(task.id, request.form.get("reason"))
    except (Conflict, InvalidInput) as exc:
        flash(f"拿回失败：{exc}", "error")
        return _back(task)
    flash(f"已拿回「{reopened.name}」，请重新办理", "success")
    return redirect(url_for("tasks_ui.show", task_id=reopened.id))


@bp.post("/<int:task_id>/sign")
@login_required
def sign(task_id: int):
    """签批 (会签/或签/加签): the signer's decision with an opinion."""
    tasks = service()
    task = tasks.visible(task_id)
    answer, signed = _act(task, lambda: tasks.sign(task.id, request.form.get("decision"), request.form.get("opinion")),
                          panel="signers", prefix="sign-", claimed=False)
    if answer is not None:
        return answer
    done = signed.status != TaskStatus.OPEN
    flash(f"已签批「{task.name}」" + ("，该环节已办结" if done else ""), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/add-signers")
@login_required
def add_signers(task_id: int):
    """加签: users (comma separated names) before or after me."""
    tasks = service()
    task = tasks.visible(task_id)
    users = [u for u in (request.form.get("users") or "").replace("，", ",").split(",") if u.strip()]
    answer, _ = _act(task, lambda: tasks.add_signers(task.id, users, request.form.get("where")),
                     panel="signers", prefix="signers-")
    if answer is not None:
        return answer
    flash(f"已加签：{'、'.join(u.strip() for u in users)}", "success")
    return _back(task, "signers")


@bp.post("/<int:task_id>/remove-signer")
@login_required
def remove_signer(task_id: int):
    """减签: a pending signer who has not acted."""
    tasks = service()
    task = tasks.visible(task_id)
    answer, _ = _act(task, lambda: tasks.remove_signer(task.id, request.form.get("user")),
                     panel="signers", prefix="signers-")
    if answer is not None:
        return answer
    flash("已减签", "success")
    return _back(task, "signers")


@bp.post("/<int:task_id>/copy")
@login_required
def copy(task_id: int):
    """抄送: copy the case to colleagues who may see it."""
    tasks = service()
    task = tasks.visible(task_id)
    answer, rows = _act(task, lambda: tasks.copy(task.id, request.form.getlist("to"), request.form.get("note")),
                        panel="copy", prefix="copy-")
    if answer is not None:
        return answer
    names = display_names([r.recipient for r in rows])
    flash(f"已抄送给 {'、'.join(names.get(r.recipient, r.recipient) for r in rows)}", "success")
    return _back(task, "copy")


@bp.post("/<int:task_id>/comment")
@login_required
def comment(task_id: int):
    """Add a comment to the case history."""
    tasks = service()
    task = tasks.visible(task_id)
    answer, _ = _act(task, lambda: tasks.comment(task.id, request.form.get("text")), panel="comment",
                     prefix="comment-", claimed=False)
    if answer is not None:
        return answer
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
    tasks = service()
    task = tasks.visible(task_id)
    upload_file = request.files.get("file")
    answer, row = _act(task, lambda: tasks.attach(task.id, attachment_folder(),
                                                  upload_file.stream if upload_file else None,
                                                  upload_file.filename if upload_file else None),
                       panel="attachments", prefix="attachment-")
    if answer is not None:
        return answer
    flash(f"附件「{row.original_name}」已上传", "success")
    return _back(task, "attachments")

"""Case list and case page: household, amounts, status, history timeline, attachments and the live diagram.

The diagram is the instance's own definition version rendered by bpmn-js (static assets, no CDN); the page passes
which elements are completed, active (with who holds them) and overdue, read from the instance's state.
"""
from __future__ import annotations

import math
import re

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, func, select

from engine.clock import SHANGHAI
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import AuditEntry, HumanTask, ProcessDefinition, ProcessInstance, TaskStatus
from workflows import access
from workflows import attachments as attachment_store
from workflows.aid.queries import household_aid
from workflows.idcard import mask_id_number
from workflows.listener import current_data
from workflows.models import Attachment, Case, CaseCopy, CaseStatus, Jurisdiction
from workflows.programs import PROGRAMS
from workflows.register import queries as register_queries
from workflows.tasks.operations import CaseOperations

from ..downloads import send_attachment
from ..engine_access import engine
from ..extensions import db
from .common import login_required, page_user
from .inbox import APPLICANT_ROLES
from .labels import CASE_STATUS, register_filters, role_name
from .tasks import display_names, people_in

bp = Blueprint("cases_ui", __name__, url_prefix="/cases")
register_filters(bp)

PAGE_SIZE = 20


def _visible_case(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    # Another jurisdiction's case answers exactly like a missing one.
    if case is None or not access.can_see_case(page_user(), case):
        raise NotFound("案件不存在或您无权查看")
    return case


def _mask_phone(phone: str | None) -> str:
    digits = (phone or "").strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


@bp.get("")
@login_required
def index():
    """Cases in my jurisdiction, newest first, with filters and pages."""
    user = page_user()
    args = request.args
    status = args.get("status", "") if args.get("status", "") in CASE_STATUS else ""
    program = args.get("program", "") if args.get("program", "") in PROGRAMS else ""
    street = (args.get("street") or "")[:50]
    q = (args.get("q") or "").strip()[:50]
    page_text = args.get("page", "1")
    page = max(1, min(int(page_text), 10_000)) if page_text.isdecimal() else 1
    conditions = [access.case_filter(user)]
    if status:
        conditions.append(Case.status == CaseStatus(status))
    if program:
        conditions.append(Case.program == program)
    if street:
        conditions.append(Case.street == street)
    if q:
        if q.isdecimal() and len(q) < 10:
            conditions.append(Case.id == int(q))
        else:
            conditions.append(Case.applicant_name.contains(q, autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(Case).where(and_(*conditions))) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page, pages)
    rows = db.session.scalars(select(Case).where(and_(*conditions)).order_by(Case.id.desc())
                              .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    level = access.level_of(user)
    streets = [] if level in ("street", "community") and user.role != "admin" else db.session.scalars(
        select(Jurisdiction.name).where(Jurisdiction.level == "street").order_by(Jurisdiction.id)).all()
    filters = {k: v for k, v in {"status": status, "program": program, "street": street, "q": q}.items() if v}
    return render_template("cases/index.html", rows=rows, total=total, page=page, pages=pages, filters=filters,
                           streets=streets, mask=mask_id_number, can_apply=user.role in APPLICANT_ROLES,
                           programs=[(p.key, p.name) for p in PROGRAMS.values() if p.process_key])


def diagram_state(workflow, open_tasks: list[HumanTask], names: dict) -> dict:
    """Element ids to highlight: completed, active (with holder and due), overdue."""
    if workflow is None:
        return {"completed": [], "active": [], "holders": [], "overdue": []}
    completed: set[str] = set()
    active: set[str] = set()
    for task in workflow.get_tasks():
        element_id = task.task_spec.bpmn_id
        if not element_id or task.workflow is not workflow:
            continue
        if task.state == TaskState.COMPLETED:
            completed.add(element_id)
        elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
            active.add(element_id)
    now = engine().now()
    holders = []
    for task in open_tasks:
        holder = names.get(task.assignee, task.assignee) if task.assignee else f"待认领（{role_name(task.role)}）"
        holders.append({"id": task.element_id, "label": holder, "overdue": task.is_overdue(now),
                        "due": task.due_at.isoformat() if task.due_at else None})
        active.add(task.element_id)
    return {
        "completed": sorted(completed - active),
        "active": sorted(active),
        "holders": holders,
        "overdue": sorted({h["id"] for h in holders if h["overdue"]}),
    }


@bp.get("/<int:case_id>")
@login_required
def show(case_id: int):
    """One case: household, amounts, status, open tasks, diagram, history and attachments."""
    user = page_user()
    case = _visible_case(case_id)
    instance = db.session.get(ProcessInstance, case.process_instance_id) if case.process_instance_id else None
    open_tasks = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == case.process_instance_id,
                                HumanTask.status == TaskStatus.OPEN).order_by(HumanTask.id)
    ).all() if instance is not None else []
    history = db.session.scalars(
        select(AuditEntry).where(AuditEntry.instance_id == case.process_instance_id).order_by(AuditEntry.id)
    ).all() if instance is not None else []
    usernames = {e.actor for e in history} | {t.assignee for t in open_tasks} | {case.created_by}
    usernames |= {u for e in history for u in people_in(e.detail)}
    attachments = attachment_store.of_case(db.session, case.id)
    usernames |= {a.uploaded_by for a in attachments}
    names = display_names(usernames)
    workflow = engine().workflow_of(instance) if instance is not None else None
    diagram = diagram_state(workflow, list(open_tasks), names)
    data = current_data(workflow) if workflow is not None else {}
    members = [dict(m, id_number=mask_id_number(m.get("id_number") or "")) for m in case.household.get("members", [])]
    copies = db.session.scalars(select(CaseCopy).where(CaseCopy.case_id == case.id, CaseCopy.recipient == user.username)
                                .order_by(CaseCopy.id.desc())).all()
    operations = CaseOperations(db.session, engine(), user)
    if any(c.read_at is None for c in copies):
        operations.mark_read(case.id)  # 已阅: opening the case reads its copies (a history entry, once)
    now = engine().now()
    return render_template(
        "cases/show.html", case=case, instance=instance, open_tasks=open_tasks, history=history, names=names,
        members=members, diagram=diagram, attachments=attachments, human_size=attachment_store.human_size,
        masked_id=mask_id_number(case.applicant_id_number), phone=_mask_phone(case.applicant_phone),
        verified_income=data.get("verified_monthly_income"), assessed_income=data.get("assessed_monthly_income"),
        local_standard=data.get("local_standard"), economic_check=data.get("economic_check"),
        copies=copies, now=now,
        diagram_url=url_for("cases_ui.diagram", case_id=case.id) if instance is not None else None,
        can_see_tasks={t.id: access.can_see_task(user, t) for t in open_tasks},
        register=_register_of(case),
        can_withdraw=operations.can_withdraw(case), can_terminate=operations.can_terminate(instance),
        aid_record=household_aid(db.session, case, now.astimezone(SHANGHAI).date()),
    )


def _register_of(case: Case) -> dict | None:
    """The household's register entry with its amount changes, payments and reviews (发放与复核记录)."""
    recipient = register_queries.recipient_for_case(db.session, case.id)
    return register_queries.recipient_detail(db.session, recipient) if recipient is not None else None


@bp.get("/<int:case_id>/diagram.bpmn")
@login_required
def diagram(case_id: int):
    """The BPMN XML of the definition version the case's instance runs on."""
    case = _visible_case(case_id)
    instance = db.session.get(ProcessInstance, case.process_instance_id) if case.process_instance_id else None
    if instance is None:
        raise NotFound("该案件没有流程实例")
    definition = db.session.get(ProcessDefinition, instance.definition_id)
    if definition is None:
        raise NotFound("流程定义不存在")
    # Documentation and scripts stay on the server: the viewer needs shapes, names and flows only.
    xml = re.sub(r"<bpmn:script>.*?</bpmn:script>", "<bpmn:script></bpmn:script>", definition.bpmn_xml, flags=re.S)
    response = Response(xml, mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<int:case_id>/attachments/<int:attachment_id>")
@login_required
def attachment(case_id: int, attachment_id: int):
    """Download an attachment: only for those who may see the case."""
    case = _visible_case(case_id)
    row = db.session.get(Attachment, attachment_id)
    if row is None or row.case_id != case.id:
        raise NotFound("附件不存在")
    return send_attachment(row)


def _operation(case_id: int, action, done: str):
    """撤回 / 终止 from the case page: the API's service call; what stopped it is shown on the case page."""
    _visible_case(case_id)
    try:
        action(CaseOperations(db.session, engine(), page_user()))
    except (Conflict, Forbidden, InvalidInput) as exc:
        db.session.rollback()
        problems = [m for messages in getattr(exc, "fields", {}).values() for m in messages]
        flash(f"操作未执行：{'；'.join(problems) if problems else exc}", "error")
        return redirect(url_for("cases_ui.show", case_id=case_id))
    flash(done, "success")
    return redirect(url_for("cases_ui.show", case_id=case_id))


@bp.post("/<int:case_id>/withdraw")
@login_required
def withdraw(case_id: int):
    """撤回 the case before the decision, with a reason."""
    return _operation(case_id, lambda ops: ops.withdraw(case_id, request.form.get("reason")),
                      "案件已撤回，待办任务已取消")


@bp.post("/<int:case_id>/terminate")
@login_required
def terminate(case_id: int):
    """终止 the case's process, with a reason (admin, district approver)."""
    case = _visible_case(case_id)
    if case.process_instance_id is None:
        raise NotFound("该案件没有流程实例")
    instance_id = case.process_instance_id
    return _operation(case_id, lambda ops: ops.terminate(instance_id, request.form.get("reason")),
                      "流程已终止，案件已关闭")

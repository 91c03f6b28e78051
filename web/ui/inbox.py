"""The inbox (待办 / 已办 / 我发起的 / 抄送我的 / 超期): filter, sort, page, claim from the list.

The task tabs take their conditions from ``workflows.tasks.inbox`` (the same the API's ``GET /tasks`` uses), the
case tabs from ``workflows.access.scope_filter``, so no tab can list another jurisdiction's work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, render_template, request
from sqlalchemy import and_, func, select

from engine.clock import SHANGHAI
from engine.models import HumanTask, TaskStatus
from workflows import access
from workflows.copies import REASONS, copied_cases, unread_count
from workflows.idcard import mask_id_number
from workflows.models import Case, Jurisdiction, User
from workflows.programs import PROGRAMS
from workflows.tasks.inbox import overdue_conditions, task_conditions

from ..engine_access import engine
from ..extensions import db
from .common import login_required, page_user
from .labels import local_time, register_filters
from .links import current_path

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
register_filters(bp)

PAGE_SIZE = 20
TABS = [("todo", "待办"), ("done", "已办"), ("started", "我发起的"), ("copied", "抄送我的"), ("overdue", "超期")]
DUE_FILTERS = [("", "全部期限"), ("overdue", "已超期"), ("today", "今日到期"), ("week", "7 日内到期"),
               ("none", "无办理期限")]
SORTS = {"due": "办理期限 ↑", "-due": "办理期限 ↓", "received": "接收时间 ↑", "-received": "接收时间 ↓"}
APPLICANT_ROLES = {"community_worker", "street_clerk", "agency_officer", "admin"}


@dataclass
class Filters:
    program: str = ""
    step: str = ""
    street: str = ""
    due: str = ""
    sort: str = ""
    page: int = 1

    @classmethod
    def from_request(cls) -> Filters:
        args = request.args
        page = args.get("page", "1")
        return cls(
            program=args.get("program", "") if args.get("program", "") in PROGRAMS else "",
            step=(args.get("step") or "")[:200],
            street=(args.get("street") or "")[:50],
            due=args.get("due", "") if args.get("due", "") in dict(DUE_FILTERS) else "",
            sort=args.get("sort", "") if args.get("sort", "") in SORTS else "",
            page=max(1, min(int(page), 10_000)) if page.isdecimal() else 1,
        )

    def args(self, **override) -> dict:
        values = {"program": self.program, "step": self.step, "street": self.street, "due": self.due,
                  "sort": self.sort, "page": self.page}
        values.update(override)
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}


@dataclass
class Row:
    case: Case | None
    step: str
    street: str
    community: str
    received: datetime | None
    due: datetime | None
    overdue: bool
    href: str
    task: HumanTask | None = None
    can_claim: bool = False
    note: str = ""
    extra: str = ""

    @property
    def applicant(self) -> str:
        return self.case.applicant_name if self.case else ""

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.case.applicant_id_number) if self.case else ""


def _day_end(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))


def _due_condition(column, due: str, now: datetime):
    return {
        "overdue": column < now,
        "today": and_(column >= now, column < _day_end(now)),
        "week": and_(column >= now, column < now + timedelta(days=7)),
        "none": column.is_(None),
    }.get(due)


def _order(sort: str, due_column, received_column, id_column):
    return {
        "due": [due_column.is_(None), due_column, id_column],
        "-due": [due_column.is_(None), due_column.desc(), id_column.desc()],
        "received": [received_column, id_column],
        "-received": [received_column.desc(), id_column.desc()],
    }[sort]


def _page(query, f: Filters):
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(f.page, pages)
    rows = db.session.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return rows, total, page, pages


def _task_tab(user: User, tab: str, f: Filters, now: datetime):
    if tab == "overdue":
        base = overdue_conditions(user, now)
    else:
        base = task_conditions(user, view="todo", status="open" if tab == "todo" else "done")
    steps = db.session.scalars(select(HumanTask.name).where(*base).distinct().order_by(HumanTask.name)).all()
    conditions = list(base)
    if f.program:
        conditions.append(Case.program == f.program)
    if f.step:
        conditions.append(HumanTask.name == f.step)
    if f.street:
        conditions.append(HumanTask.street == f.street)
    if f.due and (due := _due_condition(HumanTask.due_at, f.due, now)) is not None:
        conditions.append(due)
        if f.due in ("overdue", "today", "week"):
            conditions.append(HumanTask.status == TaskStatus.OPEN)
    sort = f.sort or ("-received" if tab == "done" else "due")
    query = (select(HumanTask, Case).outerjoin(Case, Case.process_instance_id == HumanTask.instance_id)
             .where(*conditions).order_by(*_order(sort, HumanTask.due_at, HumanTask.created_at, HumanTask.id)))
    result, total, page, pages = _page(query, f)
    rows = []
    for task, case in result:
        overdue = task.is_overdue(now)
        extra = ""
        if tab == "done":
            extra = "已退回" if task.outcome == "returned" else "已办结"
        elif task.assignee and task.assignee != user.username:
            extra = f"办理人：{task.assignee}"
        rows.append(Row(case, task.name, task.street or "", task.community or "", task.created_at, task.due_at,
                        overdue, f"/tasks/{task.id}", task=task,
                        can_claim=task.status == TaskStatus.OPEN and task.assignee is None
                        and access.can_work_task(user, task),
                        note=local_time(task.completed_at) if tab == "done" else "", extra=extra))
    return rows, total, page, pages, steps, sort


def _open_due(now: datetime):
    """The earliest due instant of a case's open tasks (correlated: one index probe per listed case)."""
    return (select(func.min(HumanTask.due_at))
            .where(HumanTask.instance_id == Case.process_instance_id, HumanTask.status == TaskStatus.OPEN)
            .scalar_subquery())


def _case_tab(user: User, tab: str, f: Filters, now: datetime):
    due = _open_due(now)
    if tab == "started":
        base = [access.case_filter(user), Case.created_by == user.username]
        received = Case.created_at
        query = select(Case, due.label("due"))
        steps_query = select(Case.stage)
        order_id = Case.id
    else:  # copied: explicit copies, hand-overs and escalations to my role
        copied = copied_cases(user)
        base = [access.case_filter(user)]
        received = copied.c.at
        query = select(Case, due.label("due"), copied).join(copied, copied.c.case_id == Case.id)
        steps_query = select(Case.stage).join(copied, copied.c.case_id == Case.id)
        order_id = Case.id
    steps = db.session.scalars(
        steps_query.where(*base, Case.stage.is_not(None)).distinct().order_by(Case.stage)
    ).all()
    conditions = list(base)
    if f.program:
        conditions.append(Case.program == f.program)
    if f.step:
        conditions.append(Case.stage == f.step)
    if f.street:
        conditions.append(Case.street == f.street)
    if f.due and (condition := _due_condition(due, f.due, now)) is not None:
        conditions.append(condition)
    sort = f.sort or "-received"
    query = query.where(*conditions).order_by(*_order(sort, due, received, order_id))
    result, total, page, pages = _page(query, f)
    senders = {item._mapping.get("sender") for item in result} - {None}
    names = {u.username: u.display_name
             for u in db.session.scalars(select(User).where(User.username.in_(senders)))} if senders else {}
    rows = []
    for item in result:
        case, due_at = item[0], item[1]
        note, extra, at = "", "", case.created_at
        if tab == "copied":
            m = item._mapping
            at = m["at"]
            who = names.get(m["sender"], m["sender"]) if m["sender"] else "系统"
            what = REASONS.get(m["reason"], m["reason"])
            if m["reason"] == "escalated":
                note = f"{what}：「{m['step']}」超期未办" + (f"，{m['note']}" if m["note"] else "")
            else:
                note = f"{what} · {who}" + (f"：{m['note']}" if m["note"] else "")
            extra = "未读" if m["read_at"] is None else ""
        rows.append(Row(case, case.stage or "", case.street, case.community, at, due_at,
                        bool(due_at and due_at < now), f"/cases/{case.id}", note=note, extra=extra))
    return rows, total, page, pages, steps, sort


def _streets(user: User) -> list[str]:
    level = access.level_of(user)
    if level in ("street", "community") and user.role != "admin":
        return [user.street] if user.street else []
    districts = {j.id: j.name for j in db.session.scalars(select(Jurisdiction).where(Jurisdiction.level == "district"))}
    streets = db.session.scalars(select(Jurisdiction).where(Jurisdiction.level == "street")
                                 .order_by(Jurisdiction.id)).all()
    return [s.name for s in streets if access.in_scope(user, districts.get(s.parent_id or 0), s.name, None)]


def _counts(user: User, now: datetime) -> dict[str, int]:
    todo = db.session.scalar(select(func.count()).select_from(HumanTask)
                             .where(*task_conditions(user, view="todo", status="open"))) or 0
    overdue = db.session.scalar(select(func.count()).select_from(HumanTask)
                                .where(*overdue_conditions(user, now))) or 0
    return {"todo": todo, "overdue": overdue, "copied": unread_count(db.session, user)}


@bp.get("")
@login_required
def index():
    """The inbox page; `tab` picks the list, the other arguments filter, sort and page it."""
    user = page_user()
    tab = request.args.get("tab", "todo")
    if tab not in dict(TABS):
        tab = "todo"
    f = Filters.from_request()
    now = engine().now()
    if tab in ("started", "copied"):
        rows, total, page, pages, steps, sort = _case_tab(user, tab, f, now)
    else:
        rows, total, page, pages, steps, sort = _task_tab(user, tab, f, now)
    return render_template(
        "inbox/index.html", tab=tab, tabs=TABS, f=f, rows=rows, total=total, page=page, pages=pages,
        steps=steps, sort=sort, sorts=SORTS, due_filters=DUE_FILTERS, streets=_streets(user),
        programs=[(p.key, p.name) for p in PROGRAMS.values() if p.process_key],
        counts=_counts(user, now), here=current_path(), can_apply=user.role in APPLICANT_ROLES,
        case_tab=tab in ("started", "copied"), now=now,
        # A member agency's staff work only that agency's tasks (workflows.access): say whose desk this is.
        my_agency=user.agency if access.is_agency_staff(user) else None,
    )

"""督办看板: the supervisor's dashboard — counts and charts per agency, street and step, ageing buckets, the weekly
trend, drill-down to the overdue tasks and their cases, urging (催办), and the overdue list as Excel.

The numbers come from the same domain functions (workflows.reports) as `GET /api/v1/reports/overdue…`, so the page
and the API agree. Charts are SVG drawn here on the server: no script, no CDN.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.routing import BuildError

from engine.clock import SHANGHAI
from engine.errors import EngineError
from engine.incidents import count_open_incidents
from engine.models import HumanTask, ProcessInstance
from workflows import access
from workflows.deadline_views import URGE_ROLES, instance_deadlines
from workflows.listener import case_id_of
from workflows.models import Case, User
from workflows.reports.export import export_filename, overdue_workbook
from workflows.reports.overdue import (
    GROUPS,
    MAX_AGE_WORKING_DAYS,
    OverdueFilter,
    ReportScope,
    overdue_breakdown,
    overdue_count,
    overdue_rows,
)
from workflows.reports.summary import summary
from workflows.roles import ROLES

from ..deadline_service import deadlines
from ..engine_access import engine
from ..extensions import db
from ..spreadsheet import xlsx_response
from .common import page_user, roles_required

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

VIEW_ROLES = ("supervisor", "district_approver", "district_inspector")
INCIDENT_ROLES = ("admin", "supervisor")  # who sees the count of 流程故障 (and its page, web/ui/incidents.py)
GROUP_TITLES = {"agency": "按单位", "street": "按街道", "step": "按环节"}
PAGE_SIZE = 50
KIND_LABELS = {"reminder": "到期提醒", "overdue": "逾期", "escalated": "升级督办", "urged": "催办"}


def _local(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(SHANGHAI).strftime(fmt)


def _due_day(value: str | None) -> str:
    """A deadline is 00:00 after its last day: show the last day ("10月15日 24:00")."""
    if not value:
        return ""
    instant = datetime.fromisoformat(value).astimezone(SHANGHAI)
    if instant.hour == 0 and instant.minute == 0:
        return (instant - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return instant.strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("dash_role")
def role_name(key: str | None) -> str:
    return ROLES[key].name if key in ROLES else (key or "—")


bp.add_app_template_filter(_local, "dash_time")
bp.add_app_template_filter(_due_day, "dash_due")


def _scope(user: User) -> ReportScope:
    return ReportScope(db.session, user, engine().calendar, engine().now())


# -- charts ----------------------------------------------------------------------------------------------------

@dataclass
class Bar:
    label: str
    open: int
    overdue: int
    escalated: int
    oldest: int | None
    href: str
    open_width: float
    overdue_width: float


def _group_bars(report: dict, group_by: str, width: float = 100.0) -> list[Bar]:
    largest = max((g["open"] for g in report["items"]), default=0) or 1
    return [Bar(label=g["key"], open=g["open"], overdue=g["overdue"], escalated=g["escalated"],
                oldest=g["oldest_overdue_working_days"],
                href=url_for("dashboard.overdue", group_by=group_by, key=g["key"]),
                open_width=round(width * g["open"] / largest, 2),
                overdue_width=round(width * g["overdue"] / largest, 2))
            for g in report["items"]]


def _column_chart(values: list[tuple[str, list[int]]], series: list[str], *, width: int = 560,
                  height: int = 180) -> dict:
    """Geometry of a grouped column chart: values = [(label, [n per series])]."""
    top = max((v for _, ns in values for v in ns), default=0) or 1
    left, bottom, plot_h = 34, 24, height - 24 - 16  # room for the labels below and the values above
    slot = (width - left) / max(len(values), 1)
    bar_w = min(26.0, (slot - 8) / max(len(series), 1))
    columns = []
    for i, (label, numbers) in enumerate(values):
        x0 = left + i * slot + (slot - bar_w * len(series)) / 2
        bars = []
        for j, n in enumerate(numbers):
            h = plot_h * n / top
            bars.append({"x": round(x0 + j * bar_w, 1), "y": round(height - bottom - h, 1), "w": round(bar_w - 2, 1),
                         "h": round(h, 1), "n": n, "series": j})
        columns.append({"label": label, "cx": round(left + i * slot + slot / 2, 1), "bars": bars})
    ticks = [{"y": round(height - bottom - plot_h * f, 1), "value": round(top * f)} for f in (0, 0.5, 1)]
    return {"width": width, "height": height, "columns": columns, "ticks": ticks, "series": series,
            "baseline": height - bottom, "left": left}


# -- pages -----------------------------------------------------------------------------------------------------

@bp.get("/")
@roles_required(*VIEW_ROLES)
def index():
    """The dashboard: totals, per agency / street / step, ageing, trend, the oldest overdue tasks."""
    user = page_user()
    scope = _scope(user)
    now = scope.now
    reports, totals = overdue_breakdown(scope)
    overview = summary(scope, totals)
    ageing = _column_chart([(b["label"], [b["count"]]) for b in overview["ageing"]], ["逾期任务"])
    trend = _column_chart([(w["week_start"][5:], [w["overdue"], w["escalated"], w["urged"]])
                           for w in overview["trend"]], ["新增逾期", "升级督办", "催办"], width=1100, height=200)
    oldest = list(overdue_rows(scope, OverdueFilter(), limit=10))
    return render_template(
        "dashboard/index.html", now=now, overview=overview, reports=reports, titles=GROUP_TITLES,
        bars={group: _group_bars(reports[group], group) for group in GROUPS}, ageing=ageing, trend=trend,
        oldest=oldest, links=_case_links(oldest),
        incidents=count_open_incidents(db.session) if user.role in INCIDENT_ROLES else None)


def _filter_from_request() -> OverdueFilter:
    group_by = request.args.get("group_by")
    if group_by not in GROUPS:
        group_by = None
    min_age = request.args.get("min_age", type=int)
    escalated = request.args.get("escalated")
    return OverdueFilter(group_by=group_by, key=request.args.get("key") if group_by else None,
                         street=request.args.get("street") or None, role=request.args.get("role") or None,
                         step=request.args.get("step") or None,
                         min_age=min(min_age, MAX_AGE_WORKING_DAYS) if min_age and min_age > 0 else None,
                         escalated={"1": True, "0": False}.get(escalated or ""))


def _filter_args(flt: OverdueFilter) -> dict:
    args = {"group_by": flt.group_by, "key": flt.key, "street": flt.street, "role": flt.role, "step": flt.step,
            "min_age": flt.min_age, "escalated": {True: "1", False: "0"}.get(flt.escalated)}  # type: ignore[arg-type]
    return {k: v for k, v in args.items() if v not in (None, "")}


def _describe(flt: OverdueFilter) -> str:
    parts = []
    if flt.group_by and flt.key:
        parts.append(f"{GROUP_TITLES[flt.group_by][1:]}：{flt.key}")
    if flt.street:
        parts.append(f"街道：{flt.street}")
    if flt.role:
        parts.append(f"岗位：{role_name(flt.role)}")
    if flt.step:
        parts.append(f"环节：{flt.step}")
    if flt.min_age:
        parts.append(f"逾期 ≥ {flt.min_age} 个工作日")
    if flt.escalated is not None:
        parts.append("已升级" if flt.escalated else "未升级")
    return "；".join(parts) or "全部"


def _case_links(rows: list[dict]) -> dict[int, dict[str, str]]:
    links = {}
    for row in rows:
        case_id = row.get("case_id")
        if case_id is None or case_id in links:
            continue
        entry = {"deadlines": url_for("dashboard.case", case_id=case_id)}
        try:
            entry["case"] = url_for("cases_ui.show", case_id=case_id)
        except BuildError:
            pass
        links[case_id] = entry
    return links


@bp.get("/overdue")
@roles_required(*VIEW_ROLES)
def overdue():
    """Drill-down: the overdue tasks of one group (or filtered), oldest first, paged."""
    user = page_user()
    scope = _scope(user)
    now = scope.now
    flt = _filter_from_request()
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)
    total = overdue_count(scope, flt)
    rows = list(overdue_rows(scope, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template("dashboard/overdue.html", now=now, rows=rows, total=total, page=page, pages=pages,
                           args=_filter_args(flt), description=_describe(flt), links=_case_links(rows),
                           can_urge=user.role in URGE_ROLES or user.role == "admin")


@bp.get("/overdue.xlsx")
@roles_required(*VIEW_ROLES)
def export():
    """The overdue list (with the same filters) as an Excel workbook."""
    scope = _scope(page_user())
    flt = _filter_from_request()
    data = overdue_workbook(overdue_rows(scope, flt, limit=None), title=f"逾期任务清单（{_describe(flt)}）",
                            as_of=scope.now)
    return xlsx_response(data, export_filename(scope.now))


@bp.get("/cases/<int:case_id>")
@roles_required(*VIEW_ROLES)
def case(case_id: int):
    """One case's time limits: every task's due, reminder and escalation, the deadline events, urging."""
    user = page_user()
    row = db.session.get(Case, case_id)
    if row is None or not access.can_see_case(user, row) or row.process_instance_id is None:
        abort(404)
    instance = db.session.get(ProcessInstance, row.process_instance_id)
    if instance is None:
        abort(404)
    info = instance_deadlines(db.session, engine().calendar, instance, engine().now())
    names = {t["id"]: t["name"] for t in info["tasks"]}
    try:
        case_url = url_for("cases_ui.show", case_id=case_id)
    except BuildError:
        case_url = None
    return render_template("dashboard/case.html", case=row, info=info, names=names, kinds=KIND_LABELS,
                           case_url=case_url, can_urge=user.role in URGE_ROLES or user.role == "admin")


@bp.post("/tasks/<int:task_id>/urge")
@roles_required(*URGE_ROLES)
def urge(task_id: int):
    """催办 from the dashboard; back to where the supervisor was."""
    user = page_user()
    task = db.session.get(HumanTask, task_id)
    if task is None or not access.can_see_task(user, task):
        abort(404)
    message = (request.form.get("message") or "").strip()[:500] or None
    try:
        event = deadlines().urge(task_id, actor=user.username, message=message)
    except EngineError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已催办「{task.name}」（第 {event.level} 次）", "success")
    target = request.form.get("next") or ""
    if not target.startswith("/dashboard") or target.startswith("//"):
        case_id = case_id_of(task.business_key)
        target = url_for("dashboard.case", case_id=case_id) if case_id else url_for("dashboard.index")
    return redirect(target)


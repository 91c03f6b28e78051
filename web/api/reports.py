"""The supervisor's overdue reports: counts per agency, street or step, the overdue list with its age in working
days (JSON or Excel), ageing buckets and the weekly trend.

Everything answers from the task projection (and the deadline events), never from workflow state, through the
partial indexes on open tasks declared in engine.models (`ix_tasks_open_report`, `ix_tasks_open_due`); `make bench`
measures them at 1,000,000 tasks. The dashboard pages (web.ui.dashboard) call the same functions, so the page and
the API always show the same numbers.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import and_, case, false, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from engine.clock import SHANGHAI
from engine.deadlines import overdue_working_days
from engine.models import (
    DeadlineEventKind,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskDeadlineEvent,
    TaskStatus,
)
from workflows import access
from workflows.listener import case_id_of
from workflows.models import Case, User
from workflows.roles import AGENCY_OF_ROLE, ROLES

from ..auth import current_user, roles_required
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, query

bp = Blueprint("api_reports", __name__, url_prefix=f"{API_PREFIX}/reports")

REPORT_ROLES = ("supervisor", "district_approver", "district_inspector", "street_reviewer")
GROUPS = ("agency", "street", "step")
UNSPECIFIED = "未指定"
# Ageing buckets in working days overdue: (label, lowest, highest or None).
AGEING = (("≤2 个工作日", 0, 2), ("3–5 个工作日", 3, 5), ("6–10 个工作日", 6, 10), ("11–20 个工作日", 11, 20),
          (">20 个工作日", 21, None))
TREND_WEEKS = 8
EXPORT_MAX_ROWS = 100_000


class OverdueQuery(Schema):
    group_by = fields.String(load_default="street", validate=validate.OneOf(list(GROUPS)))


MAX_AGE_WORKING_DAYS = 2500


class OverdueListQuery(Schema):
    group_by = fields.String(load_default=None, validate=validate.OneOf(list(GROUPS)),
                             metadata={"description": "with key: only the tasks of one group of the report"})
    key = fields.String(load_default=None, metadata={"description": "the group's key as the report shows it"})
    street = fields.String(load_default=None)
    role = fields.String(load_default=None)
    step = fields.String(load_default=None, metadata={"description": "the task's name"})
    # Capped: the working-day arithmetic behind it grows with the age, and ten years covers any real backlog.
    min_age = fields.Integer(load_default=None, validate=validate.Range(min=0, max=MAX_AGE_WORKING_DAYS),
                             metadata={"description": "at least this many working days overdue"})
    escalated = fields.Boolean(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx"]))


# -- the queries (shared with the dashboard) --------------------------------------------------------------------

def is_overdue(now: datetime) -> ColumnElement[bool]:
    # HumanTask.overdue_condition without its status test: every report query already selects open tasks, and a
    # status column inside the aggregates would cost the index-only scan of the partial index on open tasks.
    return and_(HumanTask.due_at < now, HumanTask.paused_at.is_(None))


def _calendar():
    return engine().calendar


class _Ages:
    """Working-day ages, computed once per distinct due instant (due dates are few: one per day)."""

    def __init__(self, now: datetime):
        self.now = now
        self.calendar = _calendar()
        self._cache: dict[datetime, int] = {}

    def __call__(self, due_at: datetime | None) -> int:
        if due_at is None:
            return 0
        due_at = due_at if due_at.tzinfo else due_at.replace(tzinfo=UTC)
        if due_at not in self._cache:
            self._cache[due_at] = overdue_working_days(self.calendar, due_at, self.now)
        return self._cache[due_at]


def group_label(group_by: str, key: str | None) -> str:
    if group_by == "agency":
        return AGENCY_OF_ROLE.get(key or "", key or UNSPECIFIED)
    return key or UNSPECIFIED


_GROUP_COLUMNS = {"agency": HumanTask.role, "street": HumanTask.street, "step": HumanTask.name}


def _aggregate(user: User, now: datetime, columns: list) -> list:
    """(columns…, open, overdue, oldest overdue due_at, escalated, paused) per group of open tasks in scope: one
    index-only scan of ix_tasks_open_report."""
    overdue = is_overdue(now)
    return list(db.session.execute(
        select(
            *columns,
            func.count(),
            func.sum(case((overdue, 1), else_=0)),
            func.min(case((overdue, HumanTask.due_at), else_=None)),
            func.sum(case((and_(overdue, HumanTask.escalation_level > 0), 1), else_=0)),
            func.sum(case((HumanTask.paused_at.is_not(None), 1), else_=0)),
        )
        .where(HumanTask.status == TaskStatus.OPEN, access.scope_filter(user, HumanTask))
        .group_by(*columns)
    ).all())


def _fold(rows: list, group_by: str, index: int, width: int, now: datetime, ages: _Ages) -> dict:
    groups: dict[str, dict] = {}
    for row in rows:
        key = row[index]
        open_count, overdue_count, oldest_due, escalated, _paused = row[width:]
        label = group_label(group_by, key)
        group = groups.setdefault(label, {"key": label, "open": 0, "overdue": 0, "escalated": 0,
                                          "oldest_overdue_hours": None, "oldest_overdue_working_days": None})
        if group_by == "agency" and key not in group.setdefault("roles", []):
            group["roles"].append(key)
        group["open"] += int(open_count)
        group["overdue"] += int(overdue_count or 0)
        group["escalated"] += int(escalated or 0)
        if oldest_due is not None:
            oldest_due = oldest_due if oldest_due.tzinfo else oldest_due.replace(tzinfo=UTC)
            hours = round((now - oldest_due).total_seconds() / 3600, 1)
            group["oldest_overdue_hours"] = max(group["oldest_overdue_hours"] or 0, hours)
            group["oldest_overdue_working_days"] = max(group["oldest_overdue_working_days"] or 0, ages(oldest_due))
    items = sorted(groups.values(), key=lambda g: (-g["overdue"], -g["open"], g["key"]))
    return {"group_by": group_by, "as_of": now.isoformat(), "items": items,
            "total": {"open": sum(g["open"] for g in items), "overdue": sum(g["overdue"] for g in items),
                      "escalated": sum(g["escalated"] for g in items)}}


def overdue_groups(user: User, group_by: str, now: datetime) -> dict:
    """Open and overdue tasks per agency, street or step in the user's jurisdiction."""
    rows = _aggregate(user, now, [_GROUP_COLUMNS[group_by]])
    return _fold(rows, group_by, 0, 1, now, _Ages(now))


def overdue_breakdown(user: User, now: datetime) -> tuple[dict[str, dict], dict]:
    """All three groupings and the totals from one scan (the dashboard): ({group_by: report}, totals)."""
    rows = _aggregate(user, now, [HumanTask.role, HumanTask.street, HumanTask.name])
    ages = _Ages(now)
    reports = {group: _fold(rows, group, index, 3, now, ages) for index, group in enumerate(GROUPS)}
    totals = {"open": sum(int(r[3]) for r in rows), "overdue": sum(int(r[4] or 0) for r in rows),
              "escalated": sum(int(r[6] or 0) for r in rows), "paused": sum(int(r[7] or 0) for r in rows)}
    return reports, totals


@dataclass
class OverdueFilter:
    group_by: str | None = None
    key: str | None = None
    street: str | None = None
    role: str | None = None
    step: str | None = None
    min_age: int | None = None
    escalated: bool | None = None

    def conditions(self, now: datetime) -> list:
        found: list = []
        if self.group_by and self.key is not None:
            if self.group_by == "agency":
                roles = [r for r, agency in AGENCY_OF_ROLE.items() if agency == self.key]
                roles += [r for r in ROLES if r == self.key]
                found.append(HumanTask.role.in_(roles) if self.key != UNSPECIFIED else HumanTask.role.is_(None))
            else:
                column = HumanTask.street if self.group_by == "street" else HumanTask.name
                found.append(column.is_(None) if self.key == UNSPECIFIED else column == self.key)
        if self.street:
            found.append(HumanTask.street == self.street)
        if self.role:
            found.append(HumanTask.role == self.role)
        if self.step:
            found.append(HumanTask.name == self.step)
        if self.escalated is not None:
            found.append(HumanTask.escalation_level > 0 if self.escalated else HumanTask.escalation_level == 0)
        if self.min_age:
            # At least n working days overdue ⇔ due no later than the end of the n-th working day before today.
            found.append(HumanTask.due_at <= _latest_due_for_age(now, self.min_age))
        return found


def _latest_due_for_age(now: datetime, age: int) -> datetime:
    """The latest due instant whose overdue age at `now` is at least `age` working days."""
    calendar = _calendar()
    # Walk back over local midnights: the due instants are 00:00 of a day; count working days as overdue_working_days.
    day = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    candidate = day + timedelta(days=1)
    for _ in range(age * 3 + 30):
        if overdue_working_days(calendar, candidate, now) >= age and candidate <= now:
            return candidate
        candidate -= timedelta(days=1)
    return candidate


def overdue_tasks_query(user: User, now: datetime, flt: OverdueFilter):
    return (select(HumanTask)
            .where(HumanTask.status == TaskStatus.OPEN, is_overdue(now), access.scope_filter(user, HumanTask),
                   *flt.conditions(now)))


def overdue_count(user: User, now: datetime, flt: OverdueFilter) -> int:
    return int(db.session.scalar(
        select(func.count()).select_from(HumanTask)
        .where(HumanTask.status == TaskStatus.OPEN, is_overdue(now), access.scope_filter(user, HumanTask),
               *flt.conditions(now))) or 0)


def overdue_rows(user: User, now: datetime, flt: OverdueFilter, *, limit: int | None, offset: int = 0
                 ) -> Iterator[dict]:
    """The overdue tasks, oldest due first, as report rows (with the case's applicant)."""
    statement = overdue_tasks_query(user, now, flt).order_by(HumanTask.due_at, HumanTask.id).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    ages = _Ages(now)
    for chunk in _chunks(db.session.scalars(statement.execution_options(yield_per=1000)), 1000):
        case_ids = {case_id_of(t.business_key) for t in chunk} - {None}
        applicants = dict(db.session.execute(
            select(Case.id, Case.applicant_name).where(Case.id.in_(case_ids))).all()) if case_ids else {}
        for task in chunk:
            case_id = case_id_of(task.business_key)
            yield {
                "id": task.id,
                "case_id": case_id,
                "applicant_name": applicants.get(case_id),
                "process_instance_id": task.instance_id,
                "process_key": task.process_key,
                "name": task.name,
                "element_id": task.element_id,
                "role": task.role,
                "agency": AGENCY_OF_ROLE.get(task.role or "", task.role),
                "district": task.district,
                "street": task.street,
                "community": task.community,
                "assignee": task.assignee,
                "created_at": iso(task.created_at),
                "due_at": iso(task.due_at),
                "overdue_working_days": ages(task.due_at),
                "reminded_at": iso(task.reminded_at),
                "overdue_at": iso(task.overdue_at),
                "escalation_level": task.escalation_level or 0,
                "escalate_to": task.escalate_to,
                "escalated_at": iso(task.escalated_at),
                "next_escalation_at": iso(task.next_escalation_at),
            }


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def summary(user: User, now: datetime, totals: dict | None = None) -> dict:
    """Totals, ageing buckets of the overdue tasks and the weekly trend of deadline events (`totals` from
    overdue_breakdown saves a scan)."""
    scope = access.scope_filter(user, HumanTask)
    overdue = is_overdue(now)
    if totals is None:
        rows = _aggregate(user, now, [])
        open_count, overdue_count, _oldest, escalated, paused = rows[0] if rows else (0, 0, None, 0, 0)
        totals = {"open": int(open_count or 0), "overdue": int(overdue_count or 0),
                  "escalated": int(escalated or 0), "paused": int(paused or 0)}
    ages = _Ages(now)
    buckets = [{"label": label, "min": low, "max": high, "count": 0} for label, low, high in AGEING]
    for due_at, count in db.session.execute(
        select(HumanTask.due_at, func.count())
        .where(HumanTask.status == TaskStatus.OPEN, overdue, scope).group_by(HumanTask.due_at)
    ):
        age = ages(due_at)
        for bucket in buckets:
            if age >= bucket["min"] and (bucket["max"] is None or age <= bucket["max"]):
                bucket["count"] += int(count)
                break
    instances_overdue = int(db.session.scalar(
        select(func.count()).select_from(ProcessInstance)
        .where(ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.due_at < now,
               ProcessInstance.paused_at.is_(None), access.scope_filter(user, ProcessInstance))) or 0)
    return {
        "as_of": now.isoformat(),
        "total": dict(totals, instances_overdue=instances_overdue),
        "ageing": buckets,
        "trend": trend(user, now),
    }


def trend(user: User, now: datetime, weeks: int = TREND_WEEKS) -> list[dict]:
    """Deadline events per calendar week (Monday first, Asia/Shanghai), the current week last."""
    local = now.astimezone(SHANGHAI)
    this_monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [this_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    kinds = [DeadlineEventKind.OVERDUE, DeadlineEventKind.ESCALATED, DeadlineEventKind.URGED,
             DeadlineEventKind.REMINDER]
    columns = []
    for start in starts:
        end = start + timedelta(weeks=1)
        columns.append(func.sum(case((and_(TaskDeadlineEvent.at >= start, TaskDeadlineEvent.at < end), 1),
                                     else_=0)))
    counts = {kind: [0] * weeks for kind in kinds}
    for kind, *per_week in db.session.execute(
        select(TaskDeadlineEvent.kind, *columns)
        .where(TaskDeadlineEvent.at >= starts[0], TaskDeadlineEvent.at < now + timedelta(seconds=1),
               _event_scope(user))
        .group_by(TaskDeadlineEvent.kind)
    ):
        if kind in counts:
            counts[kind] = [int(v or 0) for v in per_week]
    return [{"week_start": start.date().isoformat(),
             "overdue": counts[DeadlineEventKind.OVERDUE][i],
             "escalated": counts[DeadlineEventKind.ESCALATED][i],
             "urged": counts[DeadlineEventKind.URGED][i],
             "reminded": counts[DeadlineEventKind.REMINDER][i]} for i, start in enumerate(starts)]


def _event_scope(user: User):
    """scope_filter for deadline events, which carry district and street (a community user sees its street)."""
    if user.role in access.WHOLE_SYSTEM or access.level_of(user) == "all":
        return true()
    conditions = [TaskDeadlineEvent.district == user.district] if user.district else []
    if access.level_of(user) in ("street", "community"):
        conditions.append(TaskDeadlineEvent.street == user.street)
    return and_(*conditions) if conditions else false()


# -- Excel --------------------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    ("任务编号", "id"), ("案件编号", "case_id"), ("申请人", "applicant_name"), ("环节", "name"),
    ("岗位", "role_name"), ("单位", "agency"), ("街道", "street"), ("社区", "community"), ("办理人", "assignee"),
    ("创建时间", "created_at"), ("到期时间", "due_at"), ("逾期工作日", "overdue_working_days"),
    ("升级级别", "escalation_level"), ("已升级至", "escalate_to_name"), ("升级时间", "escalated_at"),
)


def overdue_workbook(rows: Iterable[dict], *, title: str, as_of: datetime) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("逾期任务")
    sheet.freeze_panes = "A3"
    for letter, width in zip("ABCDEFGHIJKLMNO", (10, 10, 10, 16, 18, 12, 12, 14, 14, 18, 18, 10, 10, 18, 18),
                             strict=True):
        sheet.column_dimensions[letter].width = width
    heading = WriteOnlyCell(sheet, value=f"{title}（截至 {_local(as_of)}）")
    heading.font = Font(bold=True, size=13)
    sheet.append([heading])
    header = []
    for label, _key in EXPORT_COLUMNS:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    role_names = {k: r.name for k, r in ROLES.items()}
    for count, row in enumerate(rows):
        if count >= EXPORT_MAX_ROWS:
            sheet.append([f"仅导出前 {EXPORT_MAX_ROWS} 行，请缩小筛选范围"])
            break
        values = dict(row, role_name=role_names.get(row["role"] or "", row["role"]),
                      escalate_to_name=role_names.get(row["escalate_to"] or "", row["escalate_to"]) if
                      row["escalation_level"] else None)
        out = []
        for _label, key in EXPORT_COLUMNS:
            value = values.get(key)
            if key in ("created_at", "due_at", "escalated_at") and value:
                value = datetime.fromisoformat(value).astimezone(SHANGHAI).replace(tzinfo=None)
            out.append(value)
        sheet.append(out)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def xlsx_response(data: bytes, filename: str) -> Response:
    from urllib.parse import quote

    response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f"attachment; filename=overdue.xlsx; filename*=UTF-8''{quote(filename)}"
    return response


def export_filename(now: datetime) -> str:
    return f"逾期任务_{now.astimezone(SHANGHAI).strftime('%Y%m%d_%H%M')}.xlsx"


# -- routes -------------------------------------------------------------------------------------------------------

@bp.get("/overdue")
@roles_required(*REPORT_ROLES)
@doc(params=OverdueQuery, tag="reports")
def overdue():
    """Open and overdue task counts per agency, street or step, with the oldest overdue age (hours, working days)."""
    q = query(OverdueQuery())
    return jsonify(overdue_groups(current_user(), q["group_by"], engine().now()))


@bp.get("/overdue/tasks")
@roles_required(*REPORT_ROLES)
@doc(params=OverdueListQuery, tag="reports")
def overdue_tasks():
    """The overdue tasks, oldest first, with their age in working days; `format=xlsx` exports them to Excel."""
    q = query(OverdueListQuery())
    user, now = current_user(), engine().now()
    flt = OverdueFilter(**{k: q[k] for k in ("group_by", "key", "street", "role", "step", "min_age", "escalated")})
    if q["format"] == "xlsx":
        data = overdue_workbook(overdue_rows(user, now, flt, limit=None), title="逾期任务清单", as_of=now)
        return xlsx_response(data, export_filename(now))
    items = list(overdue_rows(user, now, flt, limit=q["limit"], offset=q["offset"]))
    return jsonify({"as_of": now.isoformat(), "total": overdue_count(user, now, flt), "limit": q["limit"],
                    "offset": q["offset"], "items": items})


@bp.get("/overdue/summary")
@roles_required(*REPORT_ROLES)
@doc(tag="reports")
def overdue_summary():
    """Totals (open, overdue, escalated, paused, cases past their whole time limit), ageing buckets in working
    days, and the deadline events of the last eight weeks."""
    return jsonify(summary(current_user(), engine().now()))

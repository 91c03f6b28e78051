"""Overdue tasks per agency, street or step, and the overdue list with its age in working days.

A task's agency is its own (`HumanTask.agency`: 区教委, 区残联 … for a member agency's work) or else the unit its
role belongs to (roles.AGENCY_OF_ROLE: a street clerk's task is 街道办事处's). The reports group by the pair
(agency, role) in SQL — a handful of rows — and fold the pairs into agencies here.

Everything answers from the task projection, never from workflow state, through the partial indexes on open tasks
declared in engine.models (`ix_tasks_open_report`, `ix_tasks_open_due`); `make bench` measures them at 1,000,000
tasks. Every query is bounded by the jurisdiction of the user in the `ReportScope`.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from engine.calendar import BusinessCalendar
from engine.clock import SHANGHAI
from engine.deadline_policy import iso
from engine.deadlines import overdue_working_days
from engine.models import HumanTask, TaskStatus

from .. import access
from ..listener import case_id_of
from ..models import Case, User
from ..roles import AGENCY_OF_ROLE, ROLES

GROUPS = ("agency", "street", "step")
UNSPECIFIED = "未指定"
# Capped: the working-day arithmetic behind min_age grows with the age, and ten years covers any real backlog.
MAX_AGE_WORKING_DAYS = 2500


@dataclass(frozen=True)
class ReportScope:
    """Who asks and when: the session to read, the user whose jurisdiction bounds every count, the working-day
    calendar that measures ages, and the instant the report is as of."""

    session: Session
    user: User
    calendar: BusinessCalendar
    now: datetime


def is_overdue(now: datetime) -> ColumnElement[bool]:
    # HumanTask.overdue_condition without its status test: every report query already selects open tasks, and a
    # status column inside the aggregates would cost the index-only scan of the partial index on open tasks.
    return and_(HumanTask.due_at < now, HumanTask.paused_at.is_(None))


class Ages:
    """Working-day ages, computed once per distinct due instant (due dates are few: one per day)."""

    def __init__(self, calendar: BusinessCalendar, now: datetime):
        self.now = now
        self.calendar = calendar
        self._cache: dict[datetime, int] = {}

    def __call__(self, due_at: datetime | None) -> int:
        if due_at is None:
            return 0
        due_at = due_at if due_at.tzinfo else due_at.replace(tzinfo=UTC)
        if due_at not in self._cache:
            self._cache[due_at] = overdue_working_days(self.calendar, due_at, self.now)
        return self._cache[due_at]


def agency_of(agency: str | None, role: str | None) -> str:
    """The unit a task is reported under: its own agency, else its role's unit, else the role itself."""
    if agency:
        return agency
    return AGENCY_OF_ROLE.get(role or "", role or UNSPECIFIED)


def agency_condition(key: str) -> ColumnElement[bool]:
    """`agency_of(HumanTask.agency, HumanTask.role) == key` as a SQL condition (the drill-down of one row)."""
    if key == UNSPECIFIED:
        return and_(HumanTask.agency.is_(None), HumanTask.role.is_(None))
    roles = [r for r, unit in AGENCY_OF_ROLE.items() if unit == key]
    roles += [r for r in ROLES if r == key and r not in AGENCY_OF_ROLE]
    if not roles:
        return HumanTask.agency == key
    return or_(HumanTask.agency == key, and_(HumanTask.agency.is_(None), HumanTask.role.in_(roles)))


# The SQL columns of each grouping; the agency grouping reads two (agency, role) and folds them (agency_of).
_GROUP_COLUMNS = {"agency": (HumanTask.agency, HumanTask.role), "street": (HumanTask.street,),
                  "step": (HumanTask.name,)}


def aggregate(scope: ReportScope, columns: list) -> list:
    """(columns…, open, overdue, oldest overdue due_at, escalated, paused) per group of open tasks in scope: one
    index-only scan of ix_tasks_open_report."""
    overdue = is_overdue(scope.now)
    return list(scope.session.execute(
        select(
            *columns,
            func.count(),
            func.sum(case((overdue, 1), else_=0)),
            func.min(case((overdue, HumanTask.due_at), else_=None)),
            func.sum(case((and_(overdue, HumanTask.escalation_level > 0), 1), else_=0)),
            func.sum(case((HumanTask.paused_at.is_not(None), 1), else_=0)),
        )
        .where(HumanTask.status == TaskStatus.OPEN, access.task_scope_filter(scope.user))
        .group_by(*columns)
    ).all())


def _fold(rows: list, group_by: str, index: int, width: int, now: datetime, ages: Ages) -> dict:
    """Fold aggregate rows into groups; the group's columns start at `index`, the counts at `width`."""
    groups: dict[str, dict] = {}
    for row in rows:
        open_count, overdue_count, oldest_due, escalated, _paused = row[width:]
        if group_by == "agency":
            role = row[index + 1]
            label = agency_of(row[index], role)
        else:
            label = row[index] or UNSPECIFIED
        group = groups.setdefault(label, {"key": label, "open": 0, "overdue": 0, "escalated": 0,
                                          "oldest_overdue_hours": None, "oldest_overdue_working_days": None})
        if group_by == "agency" and role not in group.setdefault("roles", []):
            group["roles"].append(role)
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


def overdue_groups(scope: ReportScope, group_by: str) -> dict:
    """Open and overdue tasks per agency, street or step in the user's jurisdiction."""
    columns = list(_GROUP_COLUMNS[group_by])
    rows = aggregate(scope, columns)
    return _fold(rows, group_by, 0, len(columns), scope.now, Ages(scope.calendar, scope.now))


def overdue_breakdown(scope: ReportScope) -> tuple[dict[str, dict], dict]:
    """All three groupings and the totals from one scan (the dashboard): ({group_by: report}, totals)."""
    columns = [column for group in GROUPS for column in _GROUP_COLUMNS[group]]
    rows = aggregate(scope, columns)
    ages = Ages(scope.calendar, scope.now)
    starts, width = {}, 0
    for group in GROUPS:
        starts[group], width = width, width + len(_GROUP_COLUMNS[group])
    reports = {group: _fold(rows, group, starts[group], width, scope.now, ages) for group in GROUPS}
    totals = {"open": sum(int(r[width]) for r in rows), "overdue": sum(int(r[width + 1] or 0) for r in rows),
              "escalated": sum(int(r[width + 3] or 0) for r in rows),
              "paused": sum(int(r[width + 4] or 0) for r in rows)}
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

    def conditions(self, calendar: BusinessCalendar, now: datetime) -> list:
        found: list = []
        if self.group_by and self.key is not None:
            if self.group_by == "agency":
                found.append(agency_condition(self.key))
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
            found.append(HumanTask.due_at <= _latest_due_for_age(calendar, now, self.min_age))
        return found


def _latest_due_for_age(calendar: BusinessCalendar, now: datetime, age: int) -> datetime:
    """The latest due instant whose overdue age at `now` is at least `age` working days."""
    # Walk back over local midnights: the due instants are 00:00 of a day; count working days as overdue_working_days.
    day = now.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    candidate = day + timedelta(days=1)
    for _ in range(age * 3 + 30):
        if overdue_working_days(calendar, candidate, now) >= age and candidate <= now:
            return candidate
        candidate -= timedelta(days=1)
    return candidate


def _overdue_conditions(scope: ReportScope, flt: OverdueFilter) -> list:
    return [HumanTask.status == TaskStatus.OPEN, is_overdue(scope.now), access.task_scope_filter(scope.user),
            *flt.conditions(scope.calendar, scope.now)]


def overdue_count(scope: ReportScope, flt: OverdueFilter) -> int:
    return int(scope.session.scalar(
        select(func.count()).select_from(HumanTask).where(*_overdue_conditions(scope, flt))) or 0)


def overdue_rows(scope: ReportScope, flt: OverdueFilter, *, limit: int | None, offset: int = 0) -> Iterator[dict]:
    """The overdue tasks, oldest due first, as report rows (with the case's applicant)."""
    statement = (select(HumanTask).where(*_overdue_conditions(scope, flt))
                 .order_by(HumanTask.due_at, HumanTask.id).offset(offset))
    if limit is not None:
        statement = statement.limit(limit)
    ages = Ages(scope.calendar, scope.now)
    session = scope.session
    for chunk in _chunks(session.scalars(statement.execution_options(yield_per=1000)), 1000):
        case_ids = {case_id_of(t.business_key) for t in chunk} - {None}
        applicants = dict(session.execute(
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
                "agency": agency_of(task.agency, task.role),
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

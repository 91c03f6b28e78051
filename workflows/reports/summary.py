"""Totals, ageing buckets of the overdue tasks (in working days) and the weekly trend of deadline events, bounded
by the jurisdiction of the user in the `ReportScope`."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, false, func, select, true

from engine.clock import SHANGHAI
from engine.models import (
    DeadlineEventKind,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskDeadlineEvent,
    TaskStatus,
)

from .. import access
from ..models import User
from .overdue import Ages, ReportScope, aggregate, is_overdue

# Ageing buckets in working days overdue: (label, lowest, highest or None).
AGEING = (("≤2 个工作日", 0, 2), ("3–5 个工作日", 3, 5), ("6–10 个工作日", 6, 10), ("11–20 个工作日", 11, 20),
          (">20 个工作日", 21, None))
TREND_WEEKS = 8


def summary(scope: ReportScope, totals: dict | None = None) -> dict:
    """Totals, ageing buckets of the overdue tasks and the weekly trend of deadline events (`totals` from
    overdue_breakdown saves a scan)."""
    user, now, session = scope.user, scope.now, scope.session
    if totals is None:
        rows = aggregate(scope, [])
        open_count, overdue_count, _oldest, escalated, paused = rows[0] if rows else (0, 0, None, 0, 0)
        totals = {"open": int(open_count or 0), "overdue": int(overdue_count or 0),
                  "escalated": int(escalated or 0), "paused": int(paused or 0)}
    ages = Ages(scope.calendar, now)
    buckets = [{"label": label, "min": low, "max": high, "count": 0} for label, low, high in AGEING]
    for due_at, count in session.execute(
        select(HumanTask.due_at, func.count())
        .where(HumanTask.status == TaskStatus.OPEN, is_overdue(now), access.scope_filter(user, HumanTask))
        .group_by(HumanTask.due_at)
    ):
        age = ages(due_at)
        for bucket in buckets:
            if age >= bucket["min"] and (bucket["max"] is None or age <= bucket["max"]):
                bucket["count"] += int(count)
                break
    instances_overdue = int(session.scalar(
        select(func.count()).select_from(ProcessInstance)
        .where(ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.due_at < now,
               ProcessInstance.paused_at.is_(None), access.scope_filter(user, ProcessInstance))) or 0)
    return {
        "as_of": now.isoformat(),
        "total": dict(totals, instances_overdue=instances_overdue),
        "ageing": buckets,
        "trend": trend(scope),
    }


def trend(scope: ReportScope, weeks: int = TREND_WEEKS) -> list[dict]:
    """Deadline events per calendar week (Monday first, Asia/Shanghai), the current week last."""
    now = scope.now
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
    for kind, *per_week in scope.session.execute(
        select(TaskDeadlineEvent.kind, *columns)
        .where(TaskDeadlineEvent.at >= starts[0], TaskDeadlineEvent.at < now + timedelta(seconds=1),
               _event_scope(scope.user))
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

"""Which tasks are on whose desk: the inbox conditions the API's ``GET /tasks`` and the inbox page share.

Every condition starts from ``workflows.access`` so no list shows another jurisdiction's work. Views:

* ``mine`` — open tasks assigned to me (done: tasks I closed);
* ``group`` — my role's unclaimed tasks in my jurisdiction (claimable; done: my role's closed tasks there);
* ``todo`` — mine and my group's claimable ones together (the page's 待办);
* ``all`` — everything I may see.

"Done" is one rule everywhere: the task is closed (completed, or cancelled because I returned it) and I closed
it; a task the flow itself withdrew has nobody's name on it, so it is on nobody's 已办.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_

from engine.models import HumanTask, TaskStatus

from .. import access
from ..models import User
from ..substitutes import absentees_query
from .signers_model import awaiting_ids

VIEWS = ("mine", "group", "todo", "all")
STATUSES = ("open", "done")
CLOSED = (TaskStatus.COMPLETED, TaskStatus.CANCELLED)
# Who sees every overdue task of their jurisdiction, not only their own desk's.
OVERSEERS = {"supervisor", "admin", "district_approver", "district_inspector"}


def todo_filter(user: User):
    """Open work on my desk: assigned to me (or to someone I stand in for, 代理), or my role's unclaimed tasks in my
    jurisdiction."""
    return or_(mine_filter(user), and_(access.group_tasks_filter(user), HumanTask.assignee.is_(None)))


def mine_filter(user: User):
    # 会签/加签: a task waiting for my signature is on my desk too. Each arm can use an index (access.listed_in).
    return or_(HumanTask.assignee == user.username,
               access.listed_in(HumanTask.assignee, absentees_query(user.username)),
               and_(HumanTask.status == TaskStatus.OPEN, access.listed_in(HumanTask.id, awaiting_ids(user.username))))


def by_due() -> list:
    """The inbox's default order: soonest due first, tasks without a due time last, then by id (stable pages)."""
    return [HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id]


def task_conditions(user: User, *, view: str = "all", status: str = "open", overdue: bool = False,
                    now: datetime | None = None) -> list:
    """WHERE conditions for one inbox list."""
    if view not in VIEWS or status not in STATUSES:
        raise ValueError(f"unknown inbox view {view}/{status}")
    conditions = [access.visible_tasks_filter(user)]
    if status == "open":
        conditions.append(HumanTask.status == TaskStatus.OPEN)
    else:
        conditions.append(HumanTask.status.in_(CLOSED))
        # A closed task that nobody closed (withdrawn by the flow) belongs on no one's "done" list.
        if view in ("mine", "todo"):
            conditions.append(HumanTask.completed_by == user.username)
        else:
            conditions.append(HumanTask.completed_by.is_not(None))
            if view == "group":
                conditions.append(access.group_tasks_filter(user))
    if status == "open":
        if view == "mine":
            conditions.append(mine_filter(user))
        elif view == "group":
            conditions += [access.group_tasks_filter(user), HumanTask.assignee.is_(None)]
        elif view == "todo":
            conditions.append(todo_filter(user))
    if overdue:
        if now is None:
            raise ValueError("overdue needs now")
        conditions.append(HumanTask.overdue_condition(now))
    return conditions


def overdue_conditions(user: User, now: datetime) -> list:
    """The 超期 list: overseers see every overdue task they may see, everyone else the overdue ones on their desk."""
    conditions = [access.visible_tasks_filter(user), HumanTask.overdue_condition(now)]
    if user.role not in OVERSEERS:
        conditions.append(todo_filter(user))
    return conditions

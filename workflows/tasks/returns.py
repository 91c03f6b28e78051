"""退回: a task goes back to an earlier user task of its instance (``engine.returns`` does the step).

The re-opened task goes back to the person who did it last time while they still hold that role for that place;
otherwise it lands in the group's pool.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import HumanTask, TaskStatus
from engine.returns import return_task
from engine.runtime import Engine

from .. import access
from ..models import User


def earlier_holder(session: Session, task: HumanTask, element_id: str) -> str | None:
    """Who did `element_id` last in this instance, if they still may work it (same role, place in scope)."""
    row = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == task.instance_id, HumanTask.element_id == element_id,
                                HumanTask.status == TaskStatus.COMPLETED)
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1)
    ).first()
    if row is None or not row.completed_by:
        return None
    user = session.scalars(select(User).where(User.username == row.completed_by)).first()
    if user is None or not user.active:
        return None
    if row.role is None:
        return user.username  # a task nobody was named for went to its starter; it goes back to them
    if user.role != row.role or not access.in_scope(user, row.district, row.street, row.community):
        return None
    return user.username


def send_back(session: Session, engine: Engine, *, user: User, task: HumanTask, to: str,
              reason: str) -> HumanTask | None:
    """The caller has checked that `user` may work `task`. Returns the re-opened task."""
    # The returned task's draft goes with the step (workflows.listener.DropFinishedDrafts).
    return return_task(engine, task.id, actor=user.username, to=to, reason=reason,
                       assign_to=earlier_holder(session, task, to))

"""转办 (transfer) and 委派 (delegate): an open task moves to a colleague of the same role and jurisdiction (and, for a
member agency's task, the same agency).

The reassignment is a conditional UPDATE, so a task completed or taken meanwhile answers Conflict instead of being
handed over anyway. The person who handed it over gets a copy of the case (``workflows.copies``), so it stays on
their radar after it leaves their 待办 — a delegator remains answerable for what the delegate does.
"""
from __future__ import annotations

from typing import cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from engine.errors import Conflict, InvalidInput
from engine.models import AuditEntry, HumanTask, TaskStatus
from engine.runtime import Engine

from .. import access
from ..audit_actions import CaseAction
from ..copies import REASONS, record_copy
from ..forms.toolkit import clean_text
from ..listener import case_id_of
from ..models import Case, User

KINDS = {"transferred": "转办", "delegated": "委派"}


def colleagues_for(session: Session, task: HumanTask, *, exclude: str | None = None) -> list[User]:
    """Who a task may be handed over to: active users of the task's role whose jurisdiction (and, for an agency's
    task, agency) covers it — the same rule as working it (access.in_task_scope)."""
    if not task.role:
        return []
    users = session.scalars(
        select(User).where(User.active.is_(True), User.role == task.role).order_by(User.username)
    ).all()
    return [u for u in users if u.username != exclude
            and access.in_task_scope(u, task)]


def _delegator(task: HumanTask, user: User, kind: str, target: User) -> str | None:
    """Whom the task comes back to when its new holder is done (workflows.tasks.operations): a delegated task
    remembers its first delegator through further hand-overs, until it reaches them again."""
    delegator = task.delegated_by or (user.username if kind == "delegated" else None)
    return None if delegator == target.username else delegator


def hand_over(session: Session, engine: Engine, *, user: User, task: HumanTask, kind: str, to: str | None,
              reason: str | None) -> tuple[HumanTask, User]:
    """The caller has checked that `user` may work the task. Returns the task and the colleague it went to."""
    if kind not in KINDS:
        raise InvalidInput("请选择转办或委派", {"kind": ["须为 transferred 或 delegated"]})
    to = (to or "").strip()
    if not to:
        raise InvalidInput("请选择接收人", {"to": ["请选择接收人"]})
    target = session.scalars(select(User).where(User.username == to)).first()
    if target is None or not target.active:
        raise InvalidInput("接收人不存在", {"to": ["用户不存在"]})
    if target.username == user.username:
        raise InvalidInput("不能转给自己", {"to": ["不能是自己"]})
    if task.role and (target.role != task.role or not access.in_scope(target, task.district, task.street,
                                                                      task.community)):
        raise InvalidInput("接收人须为同岗位、同辖区的同事", {"to": ["岗位或辖区不符"]})
    if task.role and not access.in_task_scope(target, task):
        # A member agency's task stays with that agency (another agency's staff could not even see it).
        raise InvalidInput("接收人须为承办该任务的成员单位的同事", {"to": ["不是承办单位的人员"]})
    reason = clean_text(reason, "reason", "理由")
    now = engine.now()
    try:
        result = cast(CursorResult, session.execute(
            update(HumanTask)
            .where(HumanTask.id == task.id, HumanTask.status == TaskStatus.OPEN,
                   or_(HumanTask.assignee.is_(None), HumanTask.assignee == user.username))
            .values(assignee=target.username, claimed_at=now, delegated_by=_delegator(task, user, kind, target))
            .execution_options(synchronize_session=False)
        ))
        if result.rowcount != 1:
            raise Conflict("该任务已办结或已被他人认领，请刷新后重试")
        session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=user.username,
                               action=CaseAction(f"task_{kind}"), element_id=task.element_id, element_name=task.name,
                               opinion=reason, detail={"from": user.username, "to": target.username}))
        engine.emit(session, f"task.{kind}", {"task_id": task.id, "from": user.username,
                                              "to": target.username}, now=now)
        case_id = case_id_of(task.business_key)
        if case_id is not None and session.get(Case, case_id) is not None:
            record_copy(session, case_id=case_id, recipient=user.username, sender=user.username, reason=kind,
                        now=now, task=task, note=f"已{REASONS[kind]}给 {target.display_name}"
                        + (f"：{reason}" if reason else ""))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(task)
    return task, target

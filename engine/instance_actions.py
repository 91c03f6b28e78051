"""Ending a process instance before its flow does: 终止 (terminate) and, for the domain, 撤回 (withdraw).

One transaction under the instance's row lock, like a step, but without running the workflow: nothing of the
diagram may happen any more, so the stored state stays exactly as it was (the history and the diagram page still
show how far it got). The instance becomes ``cancelled``, every open task is cancelled (outcome ``terminated``,
nobody's 已办: ``completed_by`` stays empty), an open incident is closed, one history entry carries the reason and
one outbox event announces it — all commit together or not at all.

A running instance may be cancelled, and so may one parked by an error or an incident (an admin's way out of a
case that cannot go on).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from .audit import register_actions
from .errors import Conflict, InvalidInput, NotFound
from .models import HumanTask, Incident, InstanceStatus, ProcessInstance, TaskStatus
from .runtime import Engine, StepContext

CANCELLABLE = (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.INCIDENT)
MAX_REASON = 2000


# PostgreSQL's deadlock_detected and lock_not_available: two writers met on one instance in opposite lock order
# (a claim locks its task row and then, through its history entry's foreign key, the instance; a step locks the
# instance and then the task rows). The database aborts one of them: that caller lost the race.
LOCK_CONFLICTS = {"40P01", "55P03"}


@contextmanager
def lost_race_is_conflict() -> Iterator[None]:
    """Answer a deadlock or lock timeout in the wrapped transaction as Conflict (409), never as a failure."""
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) in LOCK_CONFLICTS:
            raise Conflict("操作冲突：其他人正在办理该案件，请刷新后重试") from exc
        raise


class InstanceAction(StrEnum):
    PROCESS_TERMINATED = "process_terminated"


register_actions(InstanceAction)


def cancel_instance(engine: Engine, instance_id: int, *, actor: str, reason: str,
                    action: str = InstanceAction.PROCESS_TERMINATED, event: str = "process.terminated",
                    payload: dict | None = None, prepare: Callable[[StepContext], None] | None = None,
                    ) -> ProcessInstance:
    """Cancel instance `instance_id` with a reason (required).

    `prepare(ctx)` runs first under the row lock: the caller's own checks (it may raise) and writes (e.g. the case
    row) join the same transaction. Raises NotFound, Conflict (already ended) or InvalidInput (no reason).
    """
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput("请填写理由", {"reason": ["请填写理由"]})
    if len(reason) > MAX_REASON:
        raise InvalidInput("理由过长", {"reason": [f"不能超过 {MAX_REASON} 个字符"]})
    session = engine.session
    with lost_race_is_conflict(), engine._transaction(session):
        instance = session.scalars(ProcessInstance.locked(instance_id)).first()
        if instance is None:
            raise NotFound("流程实例不存在")
        if instance.status not in CANCELLABLE:
            raise Conflict("流程实例已结束")
        ctx = StepContext(engine, session, instance, engine.now(), actor, "cancel")
        if prepare is not None:
            prepare(ctx)
        open_tasks = session.scalars(
            select(HumanTask.id).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN)
            .order_by(HumanTask.id)
        ).all()
        session.execute(
            update(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN)
            .values(status=TaskStatus.CANCELLED, completed_at=ctx.now, outcome="terminated")
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Incident).where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
            .values(resolved_at=ctx.now, resolved_by=actor).execution_options(synchronize_session=False)
        )
        instance.status = instance.status.to(InstanceStatus.CANCELLED)
        instance.completed_at = ctx.now
        instance.updated_at = ctx.now
        instance.next_timer_at = None  # no timer of a cancelled instance may fire
        session.flush()
        ctx.audit(action, opinion=reason, detail={"cancelled_tasks": list(open_tasks)})
        ctx.emit(event, {"process_key": instance.process_key, "actor": actor, "reason": reason,
                         "cancelled_tasks": list(open_tasks), **(payload or {})})
        ctx.write_buffers()
    return instance

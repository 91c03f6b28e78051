"""What people do with a human task: complete it (one engine step), claim, unclaim and comment on it.

Claim, unclaim and comment touch only the projection and the case history, so they run without loading the
workflow; each moves its row with a conditional UPDATE so that of two people acting at once exactly one wins.
`ready_spiff_task` and `open_task_for` are the checks every step on a task (complete, return, task data) shares.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import CursorResult, Table, or_, update
from sqlalchemy.orm.attributes import set_committed_value

from .audit import AuditAction
from .errors import Conflict, InvalidInput, NotFound
from .models import AuditEntry, HumanTask, TaskStatus
from .step import StepContext, StepKernel

# The table itself, for the Core UPDATE that completes a task.
TASK_TABLE = cast(Table, HumanTask.__table__)


class TaskActions(StepKernel):
    def complete_task(
        self,
        task_id: int,
        *,
        actor: str,
        data: Mapping[str, Any] | None = None,
        opinion: str | None = None,
        outcome: str | None = None,
        prepare: Callable[[StepContext, BpmnWorkflow, Any], None] | None = None,
        on_behalf_of: str | None = None,
        expect: Mapping[str, Any] | None = None,
    ) -> list[HumanTask]:
        """Complete a task; returns the tasks the step put on desks next.

        `prepare(ctx, workflow, spiff_task)` runs inside the same step after the task is known to be open and
        before it completes (e.g. the domain writes a corrected household): a conflict rolls both back.
        `on_behalf_of` names the assignee `actor` stands in for (the domain checked that they may): the task may be
        held by them, and the history says so. `expect` names column values the task row must still have as it
        completes (the domain planned on them before the lock, e.g. `has_signers=False`): otherwise 409.
        """
        task = self._task_or_404(task_id)
        steps: list[StepContext] = []

        def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
            steps.append(ctx)
            spiff_task = ready_spiff_task(workflow, task)
            if spiff_task is None:
                raise Conflict("该任务已办结或已不在待办状态")
            # Checks and completes in one statement: a concurrent claim or completion makes it match no row.
            completion = {"status": TaskStatus.COMPLETED, "completed_at": ctx.now, "completed_by": actor,
                          "outcome": outcome, "data": dict(data or {})}
            # A Core UPDATE on the step's connection: the ORM's bulk-update layer adds CPU and nothing here (the row's
            # object is updated below with set_committed_value; nothing is pending in the session yet).
            holders = [HumanTask.assignee == actor] + ([HumanTask.assignee == on_behalf_of] if on_behalf_of else [])
            expected = [TASK_TABLE.c[name] == value for name, value in (expect or {}).items()]
            done = cast(CursorResult, ctx.session.connection().execute(
                update(TASK_TABLE)
                .where(HumanTask.id == task_id, HumanTask.status == TaskStatus.OPEN,
                       or_(HumanTask.assignee.is_(None), *holders), *expected)
                .values(**completion)
            ))
            if done.rowcount != 1:
                current = ctx.session.get(HumanTask, task_id, populate_existing=True)
                if current is None or current.status != TaskStatus.OPEN:
                    raise Conflict("该任务已办结或已取消")
                if current.assignee and current.assignee not in (actor, on_behalf_of):
                    raise Conflict(f"该任务已由 {current.assignee} 认领，只有认领人可以办理")
                raise Conflict("该任务刚刚发生变化（如加签），请刷新后重试")
            for name, value in completion.items():
                set_committed_value(task, name, value)  # the row already says so: no second UPDATE
            if prepare is not None:
                prepare(ctx, workflow, spiff_task)
            if data:
                spiff_task.set_data(**dict(data))
            spiff_task.run()
            ctx.completed_task = task
            detail = {"outcome": outcome} if outcome else {}
            if on_behalf_of:
                detail["on_behalf_of"] = on_behalf_of
            ctx.audit(AuditAction.TASK_COMPLETED, task_id=task.id, element_id=task.element_id, element_name=task.name,
                      opinion=opinion, detail=detail or None)
            event = {"task_id": task.id, "element_id": task.element_id, "actor": actor, "outcome": outcome}
            if on_behalf_of:
                event["on_behalf_of"] = on_behalf_of
            ctx.emit("task.completed", event)

        self.step(task.instance_id, actor, "complete", action)
        return list(steps[0].created_tasks)

    def claim(self, task_id: int, actor: str) -> HumanTask:
        # Claiming touches only the projection: a conditional UPDATE makes a concurrent second claim lose.
        session = self.session
        now = self.now()
        with self._transaction(session):
            result = cast(CursorResult, session.execute(
                update(HumanTask)
                .where(HumanTask.id == task_id, HumanTask.status == TaskStatus.OPEN,
                       HumanTask.assignee.is_(None))
                .values(assignee=actor, claimed_at=now)
            ))
            task = session.get(HumanTask, task_id, populate_existing=True)
            if task is None:
                raise NotFound("任务不存在")
            if result.rowcount != 1:
                if task.assignee == actor and task.status == TaskStatus.OPEN:
                    return task
                raise Conflict("该任务已办结" if task.status != TaskStatus.OPEN else f"该任务已由 {task.assignee} 认领")
            session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=actor,
                                   action=AuditAction.TASK_CLAIMED, element_id=task.element_id, element_name=task.name))
        return task

    def unclaim(self, task_id: int, actor: str, *, force: bool = False) -> HumanTask:
        session = self.session
        now = self.now()
        with self._transaction(session):
            conditions = [HumanTask.id == task_id, HumanTask.status == TaskStatus.OPEN]
            if not force:
                conditions.append(HumanTask.assignee == actor)
            result = cast(CursorResult, session.execute(
                update(HumanTask).where(*conditions).values(assignee=None, claimed_at=None)))
            task = session.get(HumanTask, task_id, populate_existing=True)
            if task is None:
                raise NotFound("任务不存在")
            if result.rowcount != 1:
                raise Conflict("只有认领人可以退回认领的待办任务")
            session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=actor,
                                   action=AuditAction.TASK_UNCLAIMED, element_id=task.element_id, element_name=task.name))
        return task

    def comment(self, task_id: int, actor: str, text: str) -> AuditEntry:
        if not text or not text.strip():
            raise InvalidInput("意见不能为空", {"text": ["不能为空"]})
        session = self.session
        with self._transaction(session):
            task = session.get(HumanTask, task_id)
            if task is None:
                raise NotFound("任务不存在")
            entry = AuditEntry(instance_id=task.instance_id, task_id=task.id, at=self.now(), actor=actor,
                               action=AuditAction.COMMENT, element_id=task.element_id, element_name=task.name,
                               opinion=text.strip())
            session.add(entry)
        return entry

    def _task_or_404(self, task_id: int) -> HumanTask:
        task = self.session.get(HumanTask, task_id)
        if task is None:
            raise NotFound("任务不存在")
        return task


def ready_spiff_task(workflow: BpmnWorkflow, row: HumanTask):
    """The READY SpiffWorkflow task behind a projection row, or None if the flow has moved past it."""
    try:
        task = workflow.get_task_from_id(UUID(row.spiff_task_id))
    except (TaskNotFoundException, ValueError):
        return None
    return task if task is not None and task.state == TaskState.READY else None


def open_task_for(ctx: StepContext, task_id: int, actor: str) -> HumanTask:
    """Re-read a task under the instance lock: it must still be open and not held by someone else."""
    task = ctx.session.get(HumanTask, task_id, populate_existing=True)
    if task is None or task.status != TaskStatus.OPEN:
        raise Conflict("该任务已办结或已取消")
    if task.assignee and task.assignee != actor:
        raise Conflict(f"该任务已由 {task.assignee} 认领")
    return task

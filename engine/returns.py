"""Sending an open task back (退回) to an earlier user task of the same instance.

SpiffWorkflow's `reset_from_task_id` makes a completed task runnable again and drops everything that descends from
it in the task tree. Two things make a bare reset wrong in real diagrams:

* The target may lie on another branch of a parallel split than the task being sent back — 街道审核 back to 入户调查,
  where the survey ran beside the wait for the economic check. Resetting the survey alone would leave the review
  READY and let the join fire a second time when the survey is redone. So the returned task's own branch is also
  rolled back, to the first task on it that the target's path leads to (the join): reset there, the join waits
  again for the redone branch and fires once.
* A reset leaves the dropped WAITING tasks in `workflow.event_manager.tasks` (see SPIFFWORKFLOW.md); the next engine
  step would trip over them, so they are removed.

A return is one engine step: the returned task's projection row closes (cancelled, outcome ``returned``), the
target's new row comes from the normal projection sync and is handed to ``assign_to`` when given (the caller
decides who may take it — the engine knows no jurisdictions), the audit entry carries the reason, and a
``task.returned`` outbox event is queued; all commit together or not at all.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .audit import AuditAction
from .errors import Conflict, InvalidInput, NotFound
from .models import HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from .runtime import Engine, StepContext, open_task_for, ready_spiff_task


@dataclass(frozen=True)
class ReturnTarget:
    """An earlier user task an open task may be sent back to."""

    element_id: str
    name: str


@dataclass
class _Plan:
    target: Any  # the completed SpiffWorkflow task to run again
    join: Any | None  # on the returned task's branch: where it meets the target's path (parallel branches only)


def _ancestors(task) -> list:
    out = []
    parent = task.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _reachable_specs(spec) -> set[str]:
    """Names of the task specs the flow can reach from `spec` (following outgoing flows, loops included)."""
    seen: set[str] = set()
    stack = [spec]
    while stack:
        for following in stack.pop().outputs:
            if following.name not in seen:
                seen.add(following.name)
                stack.append(following)
    return seen


def _plans(workflow: BpmnWorkflow, current) -> dict[str, _Plan]:
    """Where `current` may be sent back to: the latest completed run of each earlier user task, by element id."""
    ancestors = _ancestors(current)
    ancestor_ids = {a.id for a in ancestors}
    plans: dict[str, _Plan] = {}
    latest: dict[str, float] = {}
    for task in current.workflow.get_tasks(state=TaskState.COMPLETED, manual=True):
        element_id = task.task_spec.bpmn_id
        if not element_id or element_id == current.task_spec.bpmn_id or task.workflow is not current.workflow:
            continue
        if task.id in ancestor_ids:
            plan = _Plan(task, None)
        else:
            # Another branch: find the split both hang from, then the first task on the returned task's branch
            # below it that the target's path reaches (the join where the branches meet again).
            target_ancestors = {a.id for a in _ancestors(task)}
            split = next((a for a in ancestors if a.id in target_ancestors), None)
            if split is None:
                continue
            path = [current, *ancestors]
            below_split = list(reversed(path[:path.index(split)]))
            reach = _reachable_specs(task.task_spec)
            join = next((t for t in below_split if t.task_spec.name in reach), None)
            if join is None or join is current:
                continue
            plan = _Plan(task, join)
        if element_id not in latest or task.last_state_change > latest[element_id]:
            latest[element_id] = task.last_state_change
            plans[element_id] = plan
    return dict(sorted(plans.items(), key=lambda item: latest[item[0]]))


def _target(plan: _Plan) -> ReturnTarget:
    spec = plan.target.task_spec
    return ReturnTarget(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id)


def _forget_dropped_events(workflow: BpmnWorkflow) -> None:
    """Remove tasks a reset dropped from the event manager (they would crash the next engine step)."""
    manager = workflow.event_manager
    for task_id, task in list(manager.tasks.items()):
        if task.workflow.tasks.get(task.id) is not task or task.state != TaskState.WAITING:
            manager.tasks.pop(task_id, None)


def return_targets(engine: Engine, task_id: int) -> list[ReturnTarget]:
    """The earlier user tasks an open task may be sent back to, oldest first (empty for a closed task)."""
    session = engine.session
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound("任务不存在")
    if row.status != TaskStatus.OPEN:
        return []
    instance = session.get(ProcessInstance, row.instance_id)
    if instance is None or instance.status != InstanceStatus.RUNNING:
        return []
    workflow = engine.workflow_of(instance)
    current = ready_spiff_task(workflow, row)
    if current is None:
        return []
    return [_target(plan) for plan in _plans(workflow, current).values()]


def return_task(engine: Engine, task_id: int, *, actor: str, to: str, reason: str,
                assign_to: str | None = None, check: Callable[[StepContext, HumanTask], None] | None = None,
                audit_action: str = AuditAction.TASK_RETURNED, event: str = "task.returned",
                outcome: str = "returned") -> HumanTask | None:
    """Send open task `task_id` back to the earlier user task `to` (an element id) with a reason.

    Returns the re-opened task's new projection row. Raises InvalidInput (no reason, not an earlier step),
    Conflict (the task is no longer open, or someone else holds it) or NotFound. `check(ctx, task)` runs first
    under the instance lock and may refuse; `audit_action`, `event` and `outcome` name the history entry, the outbox
    event and the closed task's outcome (拿回 is a return made by the previous handler).
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("退回须说明理由", {"reason": ["请填写退回理由"]})
    session = engine.session
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound("任务不存在")
    instance_id = row.instance_id
    reopened: list[HumanTask] = []

    def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
        task = open_task_for(ctx, task_id, actor)
        if check is not None:
            check(ctx, task)
        current = ready_spiff_task(workflow, task)
        if current is None:
            raise Conflict("该任务已不在待办状态")
        plan = _plans(workflow, current).get(to)
        if plan is None:
            raise InvalidInput("不能退回到该环节", {"to": ["只能退回到本流程中已办理过的前序环节"]})
        target = _target(plan)
        target_id = str(plan.target.id)
        workflow.reset_from_task_id(plan.target.id)
        if plan.join is not None:
            workflow.reset_from_task_id(plan.join.id)
        _forget_dropped_events(workflow)
        status: TaskStatus = task.status  # widen: mypy narrowed it to OPEN above
        task.status = status.to(TaskStatus.CANCELLED)
        task.completed_at = ctx.now
        task.completed_by = actor
        task.outcome = outcome
        ctx.session.flush()
        ctx.audit(audit_action, task_id=task.id, element_id=task.element_id, element_name=task.name,
                  opinion=reason, detail={"to": target.element_id, "to_name": target.name, "assignee": assign_to})
        ctx.emit(event, {"task_id": task.id, "element_id": task.element_id, "actor": actor,
                                   "to": target.element_id, "assignee": assign_to})

        def hand_back(ctx: StepContext, _workflow: BpmnWorkflow) -> None:
            for created in ctx.created_tasks:
                if created.spiff_task_id == target_id:
                    if assign_to:
                        created.assignee = assign_to
                        created.claimed_at = ctx.now
                    reopened.append(created)

        ctx.after_sync.append(hand_back)

    engine.step(instance_id, actor, "return", action)
    return reopened[0] if reopened else None

"""Changing the data of an open task without completing it (e.g. a corrected household during the survey).

Runs as one engine step, so the new values, the audit entry and whatever `also` writes (the domain's own rows)
commit together. The values land in the READY task's data, which the tasks after it inherit when it completes.

With `all_branches` they become instance-wide: every live (READY, WAITING, STARTED) task **and its ancestors** get
them. SpiffWorkflow re-inherits a waiting task's data from its parent whenever it is updated, and its DeepMerge trims
lists to the parent's length — so a value set on the live tasks only would be reverted in a branch that is still
waiting (e.g. for the economic check) and then win at the parallel join. Each task gets its own deep copy: a
shared object would be trimmed in place by the first merge.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .errors import Conflict, NotFound
from .models import HumanTask
from .runtime import Engine, StepContext, open_task_for, ready_spiff_task


def update_task_data(engine: Engine, task_id: int, *, actor: str, values: Mapping[str, Any],
                     audit_action: str | None = "task_data_updated", audit_detail: dict | None = None,
                     all_branches: bool = False, also: Callable[[StepContext], None] | None = None) -> None:
    session = engine.session
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound("任务不存在")
    instance_id = row.instance_id

    def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
        task = open_task_for(ctx, task_id, actor)
        spiff_task = ready_spiff_task(workflow, task)
        if spiff_task is None:
            raise Conflict("该任务已不在待办状态")
        if all_branches:
            set_data_everywhere(workflow, spiff_task, values)
        else:
            spiff_task.set_data(**deepcopy(dict(values)))
        if audit_action:
            ctx.audit(audit_action, task_id=task.id, element_id=task.element_id, element_name=task.name,
                      detail=audit_detail)
        if also is not None:
            also(ctx)

    engine.step(instance_id, actor, "update_data", action)


def set_data_everywhere(workflow: BpmnWorkflow, spiff_task, values: Mapping[str, Any]) -> None:
    """Set `values` instance-wide: on `spiff_task`, every live task and all their ancestors (see the module doc)."""
    targets = {spiff_task.id: spiff_task}
    for live in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
        node = live
        while node is not None and node.id not in targets:
            targets[node.id] = node
            node = node.parent
    node = spiff_task.parent
    while node is not None and node.id not in targets:
        targets[node.id] = node
        node = node.parent
    for target in targets.values():
        target.set_data(**deepcopy(dict(values)))

"""Setting data instance-wide while a step runs (e.g. a corrected household as the survey completes).

`set_data_everywhere` gives the values to a task, every live (READY, WAITING, STARTED) task **and their
ancestors**. SpiffWorkflow re-inherits a waiting task's data from its parent whenever it is updated, and its
DeepMerge trims lists to the parent's length — so a value set on the live tasks only would be reverted in a branch
that is still waiting (e.g. for the economic check) and then win at the parallel join. Each task gets its own deep
copy: a shared object would be trimmed in place by the first merge.
"""
from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


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

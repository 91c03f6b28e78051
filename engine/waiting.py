"""What a workflow waits for: the messages it would catch and its timers with their due instants.

Read straight from the workflow, without a database: a step saves `waiting_of` on the instance row (`waiting`,
`next_timer_at`), so the timer sweep and the API find waiting instances without loading any state.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from . import clock as clock_module


def waiting_tasks(workflow: BpmnWorkflow) -> list:
    # A reset can leave tasks in the event manager that are no longer waiting (SPIFFWORKFLOW.md).
    return [t for t in workflow.event_manager.tasks.values() if t.state == TaskState.WAITING]


def definitions_of(task) -> list:
    """The event definitions a waiting task catches; an event-based gateway catches several."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def waiting_of(workflow: BpmnWorkflow) -> list[dict]:
    """What the instance waits for: messages by name, timers with their due instant (UTC ISO)."""
    waiting = []
    for task in waiting_tasks(workflow):
        for definition in definitions_of(task):
            item: dict[str, Any] = {"element_id": task.task_spec.bpmn_id}
            if isinstance(definition, MessageEventDefinition):
                item.update(type="message", name=definition.name)
            elif isinstance(definition, TimerEventDefinition):
                item.update(type="timer", name=definition.name or task.task_spec.bpmn_name,
                            due_at=timer_due(task, definition))
            else:
                item.update(type=type(definition).__name__, name=definition.name)
            waiting.append(item)
    return waiting


def due_timers(waiting: list[dict], now: datetime) -> list[dict]:
    """The timers of a `waiting_of` list that are due at `now`."""
    return [item for item in waiting if item.get("type") == "timer" and item.get("due_at")
            and datetime.fromisoformat(item["due_at"]) <= now]


def timer_due(task, definition) -> str | None:
    """When a waiting timer task fires (UTC ISO), or None if SpiffWorkflow has not computed it."""
    value = task.internal_data.get("event_value")
    if value is None:
        return None
    due: datetime | None
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            due = datetime.fromisoformat(value["next"])
        else:
            due = TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
    except (ValueError, TypeError, KeyError):
        return None
    if due is None:
        return None
    if due.tzinfo is None:
        due = due.replace(tzinfo=clock_module.SHANGHAI)
    return due.astimezone(clock_module.UTC).isoformat()


def message_definition(workflow: BpmnWorkflow, name: str) -> MessageEventDefinition | None:
    """The definition of the waiting message event called `name`, if the workflow waits for one."""
    return next(
        (d for t in waiting_tasks(workflow) for d in definitions_of(t)
         if isinstance(d, MessageEventDefinition) and d.name == name),
        None,
    )

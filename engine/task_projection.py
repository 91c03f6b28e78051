"""The human-task projection (DESIGN decision 2): the READY user tasks of a workflow mirrored into `HumanTask` rows.

Each step ends by syncing it: a task that became READY gets a row (role, jurisdiction, form, time limits from its
diagram properties), a row whose task the flow withdrew is cancelled. Inbox and overdue queries read only these
rows, never the SpiffWorkflow state.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import update

from .loading import EngineBase
from .models import HumanTask, TaskStatus

if TYPE_CHECKING:  # only for annotations: engine.step builds on this module
    from .step import StepContext


class TaskProjection(EngineBase):
    def _sync_tasks(self, ctx: StepContext, workflow: BpmnWorkflow) -> None:
        session, instance = ctx.session, ctx.instance
        ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
        completed = {ctx.completed_task.spiff_task_id} if ctx.completed_task is not None else set()
        withdrawn = ctx.ready_before - set(ready) - completed
        if withdrawn:
            # Withdrawn by the flow itself (boundary event, gateway, reset): closed, not "completed".
            session.execute(
                update(HumanTask)
                .where(HumanTask.instance_id == instance.id, HumanTask.spiff_task_id.in_(withdrawn),
                       HumanTask.status == TaskStatus.OPEN)
                .values(status=TaskStatus.CANCELLED, completed_at=ctx.now)
                .execution_options(synchronize_session=False)
            )
            ctx.closed_task_ids.extend(sorted(withdrawn))
        new = [t for spiff_id, t in ready.items() if spiff_id not in ctx.ready_before]
        if not new:
            return
        for spiff_task in new:
            row = self._new_task_row(ctx, spiff_task)
            session.add(row)
            ctx.created_tasks.append(row)
        session.flush()

    def _new_task_row(self, ctx: StepContext, spiff_task) -> HumanTask:
        spec = spiff_task.task_spec
        props = (getattr(spec, "extensions", None) or {}).get("properties", {}) or {}
        role = props.get("candidateGroups") or getattr(spec, "lane", None)
        instance = ctx.instance
        row = HumanTask(
            instance_id=instance.id,
            spiff_task_id=str(spiff_task.id),
            process_key=instance.process_key,
            business_key=instance.business_key,
            element_id=spec.bpmn_id or spec.name,
            name=spec.bpmn_name or spec.bpmn_id or spec.name,
            role=role,
            agency=_property_value(props.get("agency"), spiff_task.data),
            form_key=props.get("formKey"),
            district=instance.district,
            street=instance.street,
            community=instance.community,
            # Named by the diagram (`assignee`: a user name, or `${name}` from the task data, e.g. the item of a
            # multi-instance task that gives each member their own sign-off); else a task nobody is named for goes
            # back to whoever started the instance (public contract).
            assignee=_property_value(props.get("assignee"), spiff_task.data) or (None if role else instance.started_by),
            status=TaskStatus.OPEN,
            created_at=ctx.now,
            escalate_to=props.get("escalateTo"),
            escalation_level=0,
        )
        self.set_time_limits(row, props, ctx.now)
        if instance.paused_at is not None:
            row.paused_at = ctx.now  # the case waits on the applicant: this task's clock starts when it resumes
        return row

    def set_time_limits(self, row: HumanTask, props: Mapping[str, Any], start: datetime) -> None:
        """A task's deadline state from its diagram properties, counted in working days from `start`."""
        row.due_at = row.remind_at = row.next_escalation_at = None
        due_days = _positive_int(props.get("dueInWorkingDays"))
        if due_days and self.calendar is not None:
            row.due_at = self.calendar.add_working_days(start, due_days)
            remind = _positive_int(props.get("remindBeforeWorkingDays"))
            if remind:
                row.remind_at = self.calendar.subtract_working_days(row.due_at, remind)
            row.next_escalation_at = row.due_at  # the deadline sweep marks it overdue then (engine.deadlines)


def _property_value(value, data: Mapping[str, Any]) -> str | None:
    """A property given literally, or as `${name}` read from the task's data (a shared step whose agency is the
    calling program's lead agency)."""
    text = str(value or "").strip()
    if text.startswith("${") and text.endswith("}"):
        found = data.get(text[2:-1].strip())
        return str(found)[:50] if found else None
    return text[:50] or None


def _positive_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None

"""The `Engine` facade: load → step → save one process instance (DESIGN decisions 1 and 2), composed of its parts.

* engine/loading.py — session, clock, calendar; parsed specs and stepped workflows, cached (`EngineBase`);
* engine/task_projection.py — READY user tasks mirrored into `HumanTask` rows with their time limits;
* engine/step.py — the step kernel: `Engine.step`, `StepContext`, `current_step()`;
* engine/task_actions.py — complete, claim, unclaim, comment;
* engine/waiting.py and engine/event_delivery.py — what an instance waits for; messages, timers, the timer sweep.

This module adds starting an instance and outbox events outside a step, and keeps the names the rest of the
system imports from here.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import AuditAction
from .errors import NotFound
from .event_delivery import EventDelivery
from .loading import Calendar, LoadedSpec, WorkflowCache
from .models import InstanceStatus, OutboxEvent, ProcessDefinition, ProcessInstance
from .step import Listener, StepContext, current_step, outbox_row
from .task_actions import TaskActions, open_task_for, ready_spiff_task
from .waiting import waiting_of

__all__ = [
    "Calendar", "Engine", "Listener", "LoadedSpec", "StepContext", "WorkflowCache", "current_step",
    "open_task_for", "ready_spiff_task", "waiting_of",
]


class Engine(TaskActions, EventDelivery):
    def start(
        self,
        process_key: str,
        *,
        data: Mapping[str, Any] | None = None,
        business_key: str | None = None,
        started_by: str | None = None,
        scope: Mapping[str, str | None] | None = None,
        version: int | None = None,
    ) -> ProcessInstance:
        session = self.session
        definition: ProcessDefinition | None
        if version is None:
            definition = self.latest_definition(process_key)
        else:
            definition = session.scalars(
                select(ProcessDefinition).where(
                    ProcessDefinition.key == process_key, ProcessDefinition.version == version
                )
            ).first()
            if definition is None:
                raise NotFound(f"流程 {process_key} 没有版本 {version}")
        loaded = self.spec_for(definition.id)
        now = self.now()
        scope = scope or {}
        instance = ProcessInstance(
            definition_id=definition.id,
            process_key=definition.key,
            business_key=business_key,
            status=InstanceStatus.RUNNING,
            state=b"",
            district=scope.get("district"),
            street=scope.get("street"),
            community=scope.get("community"),
            started_by=started_by,
            created_at=now,
            updated_at=now,
            waiting=[],
        )
        workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=self.script_engine)
        if data:
            # Start data is task data of the start task, so every later task inherits it.
            for ready in workflow.get_tasks(state=TaskState.READY):
                ready.set_data(**dict(data))
        with self._transaction(session):
            session.add(instance)
            session.flush()  # the id is needed by the projection and by script functions
            ctx = StepContext(self, session, instance, now, started_by, "start")
            ctx.audit(AuditAction.PROCESS_STARTED, detail={"process_key": definition.key, "version": definition.version})
            ctx.emit("process.started", {"process_key": definition.key, "version": definition.version})
            self._run(ctx, workflow, lambda wf: None)
        self._workflows.put(instance.id, instance.version, workflow)
        return instance

    def emit(self, session: Session, event_type: str, payload: dict, *, now: datetime,
             instance: ProcessInstance | None = None) -> OutboxEvent:
        """Queue an outbox event outside a step (task hand-overs and other projection-only actions)."""
        event = OutboxEvent(**outbox_row(event_type, payload, now, instance))
        session.add(event)
        return event

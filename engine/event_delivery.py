"""Delivering what an instance waits for (engine/waiting.py): a BPMN message, its due timers, and the timer sweep.

`sweep_timers` is the background job (DESIGN decision 5): it steps each instance with a due timer under
`skip_locked`, so workers side by side never queue on one row. An instance whose step fails is logged and parked as
an incident (engine/incidents.py) until an admin retries it — only a database hiccup is merely postponed — and
never stops the sweep. A stop check between instances lets a worker shut down within one step.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from .audit import AuditAction
from .errors import Conflict, StaleState
from .incidents import Incidents
from .models import IncidentKind, InstanceStatus, ProcessInstance
from .step import NothingDue, StepContext
from .waiting import due_timers, message_definition, waiting_of

log = logging.getLogger(__name__)

# How long a timer whose step hit a database error waits before the sweep tries it again.
RETRY_FAILED_TIMER_AFTER = timedelta(minutes=5)


class EventDelivery(Incidents):
    def send_message(self, instance_id: int, name: str, payload: Any, *, actor: str | None = None) -> None:
        def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
            # Spiff matches events by class as well as name, so reuse the waiting event's own definition.
            definition = message_definition(workflow, name)
            if definition is None:
                raise Conflict(f"流程实例当前未在等待消息 {name}")
            try:
                workflow.send_event(BpmnEvent(definition, payload=payload))
            except WorkflowException as exc:
                raise Conflict(f"流程实例当前未在等待消息 {name}") from exc
            ctx.audit(AuditAction.MESSAGE_RECEIVED, element_name=name, detail={"name": name})

        self.step(instance_id, actor, "message", action)

    def fire_timers(self, instance_id: int, *, skip_locked: bool = False, due_by: datetime | None = None) -> bool:
        """Run an instance's due timers; with `skip_locked`, an instance another worker holds is left alone, and
        with `due_by` one whose timer is no longer due by then (another worker fired it) is skipped at the lock.

        Returns whether the instance was stepped.
        """

        def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
            due = due_timers(waiting_of(workflow), ctx.now)
            if not due:
                raise NothingDue()  # another worker fired it already: write nothing
            for item in due:
                ctx.audit(AuditAction.TIMER_FIRED, element_id=item["element_id"], element_name=item.get("name"),
                          detail={"due_at": item["due_at"]})
            workflow.refresh_timers()
            # A fired timer leaves its task READY; the engine steps run it, and their closing refresh may make a
            # further timer due, which needs one more round.
            workflow.do_engine_steps()

        try:
            return self.step(instance_id, "system", "timer", action, skip_locked=skip_locked,
                             timer_due_by=due_by) is not None
        except NothingDue:
            return False

    def due_timer_instances(self, now: datetime, limit: int = 100) -> list[int]:
        return list(
            self.session.scalars(
                select(ProcessInstance.id)
                .where(ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.next_timer_at <= now)
                .order_by(ProcessInstance.next_timer_at)
                .limit(limit)
            )
        )

    def sweep_timers(self, limit: int = 500, *, should_stop: Callable[[], bool] | None = None) -> int:
        """Fire every due timer; a broken instance becomes an incident and never stops the sweep.

        `should_stop` is asked before each instance: a worker shutting down leaves the rest to the next sweep.
        """
        now = self.now()
        handled = 0
        for instance_id in self.due_timer_instances(now, limit):
            if should_stop is not None and should_stop():
                break
            try:
                # Workers sweeping side by side walk the same due list: each skips, at the lock and without
                # restoring it, what another holds or has fired already.
                if self.fire_timers(instance_id, skip_locked=True, due_by=now):
                    handled += 1
            except StaleState:
                continue  # another worker stepped it first
            except Exception as exc:
                if _caused_by_database(exc):
                    # The database, not the instance (a lost connection, a lock timeout — also when a script's
                    # function call met it and the script error wraps it): try again later.
                    log.exception("timer of instance %s failed; retrying later", instance_id)
                    self._postpone_timer(instance_id, now + RETRY_FAILED_TIMER_AFTER)
                else:
                    log.exception("timer of instance %s failed; opening an incident", instance_id)
                    self._park(instance_id, IncidentKind.TIMER, exc, now)
        return handled

    def _park(self, instance_id: int, kind: IncidentKind, exc: Exception, now: datetime) -> None:
        """Open an incident; if even that fails, postpone the timer as before so the sweep is not stuck on it."""
        try:
            self.open_incident(instance_id, kind, exc)
        except Exception:
            log.exception("could not open an incident for instance %s; retrying later", instance_id)
            self.session.rollback()
            self._postpone_timer(instance_id, now + RETRY_FAILED_TIMER_AFTER)

    def _postpone_timer(self, instance_id: int, until: datetime) -> None:
        session = self.session
        with self._transaction(session):
            session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                            .values(next_timer_at=until, version=ProcessInstance.version + 1))


def _caused_by_database(exc: BaseException) -> bool:
    """Whether a database error is anywhere in the exception's chain (causes and contexts)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DBAPIError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False

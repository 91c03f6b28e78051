"""The step kernel: load → step → save one process instance, in one transaction (DESIGN decisions 1 and 2).

Every change to an instance goes through `Engine.step`: it locks the instance row, restores the workflow, applies
one action (start, complete a task, deliver a message, fire timers, return, migrate…), lets SpiffWorkflow run
engine steps, then writes the state, the human-task projection, audit entries and outbox events and commits them
together. Any exception rolls the whole step back, so a crash never leaves half a step.
"""
from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, cast

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import UpdateBase

from .audit import AuditAction
from .errors import Conflict, InvalidInput, NotFound, ScriptError, StaleState
from .models import (
    AuditEntry,
    HumanTask,
    InstanceStatus,
    OutboxEvent,
    OutboxStatus,
    ProcessInstance,
)
from .serialization import dump_state
from .task_projection import TaskProjection
from .waiting import waiting_of

if TYPE_CHECKING:  # only for annotations: engine.runtime builds the Engine on this module
    from .runtime import Engine

log = logging.getLogger(__name__)

# The tables themselves, for the Core inserts of `write_buffers`.
AUDIT_TABLE = cast(Table, AuditEntry.__table__)
OUTBOX_TABLE = cast(Table, OutboxEvent.__table__)


@dataclass
class StepContext:
    """What a step knows; BPMN script functions and listeners read it through `current_step()`."""

    engine: Engine
    session: Session
    instance: ProcessInstance
    now: datetime
    actor: str | None
    action: str
    created_tasks: list[HumanTask] = field(default_factory=list)
    closed_task_ids: list[str] = field(default_factory=list)
    completed_task: HumanTask | None = None
    instance_completed: bool = False
    ready_before: set[str] = field(default_factory=set)
    # Audit and outbox rows are buffered and written with one multi-row INSERT each at the end of the step.
    audit_rows: list[dict] = field(default_factory=list)
    event_rows: list[dict] = field(default_factory=list)
    # Writes whose answer nobody reads (a listener's DELETE of finished drafts): sent with the step's last statement.
    later_writes: list[UpdateBase] = field(default_factory=list)
    # Run right after the task projection is synced (a return hands the re-opened task to its earlier holder).
    after_sync: list[Callable[[StepContext, BpmnWorkflow], None]] = field(default_factory=list)

    def emit(self, event_type: str, payload: dict) -> None:
        """Queue an outbox event in this step's transaction."""
        self.event_rows.append(outbox_row(event_type, payload, self.now, self.instance))

    def audit(self, action: str, *, task_id: int | None = None, element_id: str | None = None,
              element_name: str | None = None, opinion: str | None = None, detail: dict | None = None) -> None:
        self.audit_rows.append({
            "instance_id": self.instance.id, "task_id": task_id, "at": self.now, "actor": self.actor,
            "action": action, "element_id": element_id, "element_name": element_name, "opinion": opinion,
            "detail": detail,
        })

    def write_later(self, statement: UpdateBase) -> None:
        """Run an INSERT/UPDATE/DELETE at the end of the step, in its transaction, without reading its answer: on
        PostgreSQL it rides along with the history and outbox INSERT (one round trip for all of them)."""
        self.later_writes.append(statement)

    def write_buffers(self) -> None:
        # Core statements on the step's connection: same transaction, same SQL, without the ORM's bulk layer
        # (which costs more CPU per step than the statement itself; no ORM object is wanted back). The history and
        # outbox rows need nothing flushed first (they point at the instance and tasks, already in the database);
        # a later write may read what the step changed in the session (a task a signer just completed), so then
        # the session is flushed first — the instance's UPDATE goes a statement earlier, not one more.
        later, self.later_writes = self.later_writes, []
        if not (self.audit_rows or self.event_rows or later):
            return
        if later:
            self.session.flush()
        connection = self.session.connection()
        if self.audit_rows and self.event_rows and connection.dialect.name == "postgresql":
            # One round trip instead of two or more: the audit rows and the later writes go in data-modifying CTEs
            # of the outbox INSERT (each sees what the step wrote before; PostgreSQL runs every one of them).
            statement = insert(OUTBOX_TABLE).values(self.event_rows)
            statement = statement.add_cte(insert(AUDIT_TABLE).values(self.audit_rows).cte("audit_rows"))
            for n, write in enumerate(later):
                statement = statement.add_cte(write.cte(f"later_{n}"))
            connection.execute(statement)
        else:
            for write in later:
                connection.execute(write)
            if self.audit_rows:
                connection.execute(insert(AUDIT_TABLE), self.audit_rows)
            if self.event_rows:
                connection.execute(insert(OUTBOX_TABLE), self.event_rows)
        self.audit_rows, self.event_rows = [], []


def outbox_row(event_type: str, payload: dict, now: datetime, instance: ProcessInstance | None) -> dict:
    """The column values of a pending outbox event (DESIGN decision 6)."""
    return {
        "event_type": event_type,
        "instance_id": instance.id if instance else None,
        "business_key": instance.business_key if instance else None,
        "payload": payload,
        "created_at": now,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
    }


class NothingDue(Exception):
    """A timer step found no due timer; the step is rolled back without writing anything."""


_current: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("jiuzhu_step", default=None)


def current_step() -> StepContext:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("no process step is running")
    return ctx


class Listener(Protocol):
    """The domain's hook into every step, called before commit inside the step's transaction."""

    def after_step(self, ctx: StepContext, workflow: BpmnWorkflow) -> None: ...


Action = Callable[[StepContext, BpmnWorkflow], None]


class StepKernel(TaskProjection):
    @contextmanager
    def _transaction(self, session: Session):
        try:
            yield session
            session.commit()
        except StaleDataError as exc:
            session.rollback()
            raise StaleState("流程实例已被其他操作修改，请刷新后重试") from exc
        except IntegrityError as exc:
            session.rollback()
            raise Conflict("数据冲突，请刷新后重试") from exc
        except BaseException:
            session.rollback()
            raise

    def step(self, instance_id: int, actor: str | None, action_name: str, action: Action, *,
             skip_locked: bool = False, timer_due_by: datetime | None = None) -> ProcessInstance | None:
        """Apply `action(ctx, workflow)` to a running instance as one step, under its row lock.

        Returns the instance; None only with `skip_locked`, when the row is locked by another worker, gone, no
        longer running or (with `timer_due_by`) has no timer due by then any more (a sweep then leaves it alone).
        """
        session = self.session
        with self._transaction(session):
            # The row lock serialises steps on one instance (PostgreSQL); SQLite serialises writers itself and the
            # version column catches the rest. Sweeps pass skip_locked so workers never queue on one row.
            instance = session.scalars(ProcessInstance.locked(instance_id, skip_locked=skip_locked,
                                                              timer_due_by=timer_due_by)).first()
            if instance is None:
                if skip_locked:
                    return None
                raise NotFound("流程实例不存在")
            if instance.status != InstanceStatus.RUNNING:
                if skip_locked:
                    return None
                raise Conflict("流程实例已结束")
            # The row lock makes us the only writer: a cached workflow of the same version is the stored state.
            workflow = self._workflows.take(instance.id, instance.version) or self.workflow_of(instance)
            # Every StepKernel is an Engine (engine/runtime.py composes it); the kernel's own type cannot say so.
            ctx = StepContext(cast("Engine", self), session, instance, self.now(), actor, action_name)
            # The projection mirrors the READY user tasks, so what was ready before tells which rows are open.
            ctx.ready_before = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
            self._run(ctx, workflow, lambda wf: action(ctx, wf))
        # Only a committed step's workflow goes back to the cache; a failed one was taken out and is dropped.
        self._workflows.put(instance.id, instance.version, workflow)
        return instance

    def _run(self, ctx: StepContext, workflow: BpmnWorkflow, action: Callable[[BpmnWorkflow], None]) -> None:
        token = _current.set(ctx)
        try:
            try:
                action(workflow)
                workflow.do_engine_steps()
            except (Conflict, NotFound, InvalidInput, NothingDue):
                raise
            except SpiffWorkflowException as exc:
                raise ScriptError(_describe(exc)) from exc
            except (ValueError, TypeError, KeyError) as exc:
                # Raised by the script environment for data it cannot take (e.g. a data key named like a
                # whitelisted function): the diagram or the data is at fault, and nothing was written.
                log.warning("step of instance %s refused: %r", ctx.instance.id, exc)
                raise ScriptError(f"流程执行失败：{exc}") from exc
            self._sync_tasks(ctx, workflow)
            for hook in ctx.after_sync:
                hook(ctx, workflow)
            # Announced after the hooks, which may still hand a new task to a person (a return).
            for row in ctx.created_tasks:
                ctx.emit("task.created", {"task_id": row.id, "element_id": row.element_id, "role": row.role,
                                          "assignee": row.assignee,
                                          "due_at": row.due_at.isoformat() if row.due_at else None})
            self._save(ctx, workflow)
            for listener in self.listeners:
                listener.after_step(ctx, workflow)
            ctx.write_buffers()
        finally:
            _current.reset(token)

    def _save(self, ctx: StepContext, workflow: BpmnWorkflow) -> None:
        instance = ctx.instance
        waiting = waiting_of(workflow)
        instance.waiting = waiting
        timer_dues = [w["due_at"] for w in waiting if w["type"] == "timer" and w.get("due_at")]
        instance.next_timer_at = datetime.fromisoformat(min(timer_dues)) if timer_dues else None
        instance.updated_at = ctx.now
        if workflow.is_completed():
            instance.status = instance.status.to(InstanceStatus.COMPLETED)
            instance.completed_at = ctx.now
            instance.next_timer_at = None
            ctx.instance_completed = True
            ctx.audit(AuditAction.PROCESS_COMPLETED)
            ctx.emit("process.completed", {"process_key": instance.process_key})
        instance.state = dump_state(workflow)


def _describe(exc: SpiffWorkflowException) -> str:
    task = getattr(exc, "task", None)
    where = ""
    if task is not None:
        where = f"（{task.task_spec.bpmn_name or task.task_spec.bpmn_id}）"
    return f"流程脚本执行失败{where}：{getattr(exc, 'error_msg', None) or exc}"

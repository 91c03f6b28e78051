"""Load → step → save one process instance, in one transaction (DESIGN decisions 1 and 2).

Every change to an instance goes through `Engine._step`: it locks the instance row, restores the workflow, applies
one action (start, complete a task, deliver a message, fire timers), lets SpiffWorkflow run engine steps, then
writes the state, the human-task projection, audit entries and outbox events and commits them together. Any
exception rolls the whole step back, so a crash never leaves half a step.
"""
from __future__ import annotations

import contextvars
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import CursorResult, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from . import clock as clock_module
from .errors import Conflict, InvalidInput, NotFound, ScriptError, StaleState
from .models import (
    AuditEntry,
    HumanTask,
    InstanceStatus,
    OutboxEvent,
    OutboxStatus,
    ProcessDefinition,
    ProcessInstance,
    TaskStatus,
)
from .serialization import dump_state, load_spec, load_state

log = logging.getLogger(__name__)


class Calendar(Protocol):
    def add_working_days(self, start: datetime, n: int) -> datetime: ...

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime: ...


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
    # Run right after the task projection is synced (a return hands the re-opened task to its earlier holder).
    after_sync: list[Callable[[StepContext, BpmnWorkflow], None]] = field(default_factory=list)

    def emit(self, event_type: str, payload: dict) -> None:
        """Queue an outbox event in this step's transaction."""
        self.event_rows.append(_event_row(event_type, payload, self.now, self.instance))

    def audit(self, action: str, *, task_id: int | None = None, element_id: str | None = None,
              element_name: str | None = None, opinion: str | None = None, detail: dict | None = None) -> None:
        self.audit_rows.append({
            "instance_id": self.instance.id, "task_id": task_id, "at": self.now, "actor": self.actor,
            "action": action, "element_id": element_id, "element_name": element_name, "opinion": opinion,
            "detail": detail,
        })

    def write_buffers(self) -> None:
        if self.audit_rows:
            self.session.execute(insert(AuditEntry), self.audit_rows)
        if self.event_rows:
            self.session.execute(insert(OutboxEvent), self.event_rows)
        self.audit_rows, self.event_rows = [], []


def _event_row(event_type: str, payload: dict, now: datetime, instance: ProcessInstance | None) -> dict:
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


class _NothingDue(Exception):
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


@dataclass
class LoadedSpec:
    version: int
    spec: Any
    subprocess_specs: dict
    user_tasks: dict[str, dict]


class WorkflowCache:
    """Recently stepped workflows by instance, so the next step on this process skips deserialising.

    An entry is valid only for the row version it was saved as; `take` removes it, so a step that fails never
    leaves a half-changed workflow behind.
    """

    def __init__(self, size: int = 500):
        self._size = size
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: int, version: int) -> BpmnWorkflow | None:
        with self._lock:
            item = self._items.pop(instance_id, None)
        return item[1] if item is not None and item[0] == version else None

    def put(self, instance_id: int, version: int, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[instance_id] = (version, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Engine:
    def __init__(
        self,
        session: Callable[[], Session],
        *,
        script_engine=None,
        calendar: Calendar | None = None,
        listeners: Iterable[Listener] = (),
        clock: clock_module.Clock | None = None,
    ):
        self._session = session
        self.script_engine = script_engine
        self.calendar = calendar
        self.listeners = list(listeners)
        self._clock = clock
        self._specs: dict[int, LoadedSpec] = {}
        self._workflows = WorkflowCache()

    # -- time ---------------------------------------------------------------------------------------------
    @property
    def clock(self) -> clock_module.Clock:
        return self._clock or clock_module.active()

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def session(self) -> Session:
        return self._session()

    # -- specs --------------------------------------------------------------------------------------------
    def spec_for(self, definition_id: int) -> LoadedSpec:
        """The parsed spec of a definition version; versions never change, so it is cached per process."""
        loaded = self._specs.get(definition_id)
        if loaded is None:
            definition = self.session.get(ProcessDefinition, definition_id)
            if definition is None:
                raise NotFound("流程定义不存在")
            spec, subprocess_specs = load_spec(definition.spec_json)
            user_tasks = {t["element_id"]: t for t in (definition.user_tasks or [])}
            loaded = self._specs[definition_id] = LoadedSpec(definition.version, spec, subprocess_specs, user_tasks)
        return loaded

    def forget_specs(self) -> None:
        """Drop cached specs and workflows (a test that empties the database reuses ids)."""
        self._specs.clear()
        self._workflows.clear()

    def latest_definition(self, process_key: str) -> ProcessDefinition:
        definition = self.session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == process_key)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        ).first()
        if definition is None:
            raise NotFound(f"流程 {process_key} 尚未部署")
        return definition

    # -- public actions -----------------------------------------------------------------------------------
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
            ctx.audit("process_started", detail={"process_key": definition.key, "version": definition.version})
            ctx.emit("process.started", {"process_key": definition.key, "version": definition.version})
            self._run(ctx, workflow, lambda wf: None)
        self._workflows.put(instance.id, instance.version, workflow)
        return instance

    def complete_task(
        self,
        task_id: int,
        *,
        actor: str,
        data: Mapping[str, Any] | None = None,
        opinion: str | None = None,
        outcome: str | None = None,
        prepare: Callable[[StepContext, BpmnWorkflow, Any], None] | None = None,
    ) -> list[HumanTask]:
        """Complete a task; returns the tasks the step put on desks next.

        `prepare(ctx, workflow, spiff_task)` runs inside the same step after the task is known to be open and
        before it completes (e.g. the domain writes a corrected household): a conflict rolls both back.
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
            done = cast(CursorResult, ctx.session.execute(
                update(HumanTask)
                .where(HumanTask.id == task_id, HumanTask.status == TaskStatus.OPEN,
                       or_(HumanTask.assignee.is_(None), HumanTask.assignee == actor))
                .values(**completion)
                .execution_options(synchronize_session=False)
            ))
            if done.rowcount != 1:
                current = ctx.session.get(HumanTask, task_id, populate_existing=True)
                if current is not None and current.status == TaskStatus.OPEN and current.assignee:
                    raise Conflict(f"该任务已由 {current.assignee} 认领，只有认领人可以办理")
                raise Conflict("该任务已办结或已取消")
            for name, value in completion.items():
                set_committed_value(task, name, value)  # the row already says so: no second UPDATE
            if prepare is not None:
                prepare(ctx, workflow, spiff_task)
            if data:
                spiff_task.set_data(**dict(data))
            spiff_task.run()
            ctx.completed_task = task
            ctx.audit("task_completed", task_id=task.id, element_id=task.element_id, element_name=task.name,
                      opinion=opinion, detail={"outcome": outcome} if outcome else None)
            ctx.emit("task.completed", {"task_id": task.id, "element_id": task.element_id, "actor": actor,
                                        "outcome": outcome})

        self._step(task.instance_id, actor, "complete", action)
        return list(steps[0].created_tasks)

    def send_message(self, instance_id: int, name: str, payload: Any, *, actor: str | None = None) -> None:
        def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
            # Spiff matches events by class as well as name, so reuse the waiting event's own definition.
            definition = next(
                (d for t in _waiting_tasks(workflow) for d in _definitions_of(t)
                 if isinstance(d, MessageEventDefinition) and d.name == name),
                None,
            )
            if definition is None:
                raise Conflict(f"流程实例当前未在等待消息 {name}")
            try:
                workflow.send_event(BpmnEvent(definition, payload=payload))
            except WorkflowException as exc:
                raise Conflict(f"流程实例当前未在等待消息 {name}") from exc
            ctx.audit("message_received", element_name=name, detail={"name": name})

        self._step(instance_id, actor, "message", action)

    def fire_timers(self, instance_id: int, *, skip_locked: bool = False) -> bool:
        """Run an instance's due timers; with `skip_locked`, an instance another worker holds is left alone.

        Returns whether the instance was stepped.
        """

        def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
            due = [item for item in waiting_of(workflow) if item["type"] == "timer" and item.get("due_at")
                   and datetime.fromisoformat(item["due_at"]) <= ctx.now]
            if not due:
                raise _NothingDue()  # another worker fired it already: write nothing
            for item in due:
                ctx.audit("timer_fired", element_id=item["element_id"], element_name=item.get("name"),
                          detail={"due_at": item["due_at"]})
            workflow.refresh_timers()
            # A fired timer leaves its task READY; the engine steps run it, and their closing refresh may make a
            # further timer due, which needs one more round.
            workflow.do_engine_steps()

        try:
            return self._step(instance_id, "system", "timer", action, skip_locked=skip_locked) is not None
        except _NothingDue:
            return False

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
                                   action="task_claimed", element_id=task.element_id, element_name=task.name))
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
                                   action="task_unclaimed", element_id=task.element_id, element_name=task.name))
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
                               action="comment", element_id=task.element_id, element_name=task.name,
                               opinion=text.strip())
            session.add(entry)
        return entry

    def workflow_of(self, instance: ProcessInstance) -> BpmnWorkflow:
        """A read-only copy of an instance's workflow (for inspection; changes are not saved)."""
        loaded = self.spec_for(instance.definition_id)
        workflow = load_state(instance.state, loaded.spec, loaded.subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow

    def emit(self, session: Session, event_type: str, payload: dict, *, now: datetime,
             instance: ProcessInstance | None = None) -> OutboxEvent:
        """Queue an outbox event outside a step (task hand-overs and other projection-only actions)."""
        event = OutboxEvent(**_event_row(event_type, payload, now, instance))
        session.add(event)
        return event

    # -- the step -----------------------------------------------------------------------------------------
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

    def _task_or_404(self, task_id: int) -> HumanTask:
        task = self.session.get(HumanTask, task_id)
        if task is None:
            raise NotFound("任务不存在")
        return task

    def _step(self, instance_id: int, actor: str | None, action_name: str,
              action: Callable[[StepContext, BpmnWorkflow], None], *,
              skip_locked: bool = False) -> ProcessInstance | None:
        session = self.session
        with self._transaction(session):
            # FOR UPDATE serialises steps on one instance (PostgreSQL); SQLite serialises writers itself and the
            # version column catches the rest. Sweeps pass skip_locked so workers never queue on one row.
            instance = session.scalars(
                select(ProcessInstance).where(ProcessInstance.id == instance_id)
                .with_for_update(of=ProcessInstance, skip_locked=skip_locked)
                .execution_options(populate_existing=True)
            ).first()
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
            ctx = StepContext(self, session, instance, self.now(), actor, action_name)
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
            except (Conflict, NotFound, InvalidInput, _NothingDue):
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
        loaded = self.spec_for(instance.definition_id)
        for spiff_task in new:
            row = self._new_task_row(ctx, spiff_task, loaded)
            session.add(row)
            ctx.created_tasks.append(row)
        session.flush()

    def _new_task_row(self, ctx: StepContext, spiff_task, loaded: LoadedSpec) -> HumanTask:
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
            form_key=props.get("formKey"),
            district=instance.district,
            street=instance.street,
            community=instance.community,
            # A task nobody is named for goes back to whoever started the instance (public contract).
            assignee=None if role else instance.started_by,
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
            ctx.audit("process_completed")
            ctx.emit("process.completed", {"process_key": instance.process_key})
        instance.state = dump_state(workflow)

    # -- sweeps -------------------------------------------------------------------------------------------
    def due_timer_instances(self, now: datetime, limit: int = 100) -> list[int]:
        return list(
            self.session.scalars(
                select(ProcessInstance.id)
                .where(ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.next_timer_at <= now)
                .order_by(ProcessInstance.next_timer_at)
                .limit(limit)
            )
        )

    def sweep_timers(self, limit: int = 500) -> int:
        """Fire every due timer; one broken instance is logged and retried later, never stops the sweep."""
        now = self.now()
        handled = 0
        for instance_id in self.due_timer_instances(now, limit):
            try:
                if self.fire_timers(instance_id, skip_locked=True):
                    handled += 1
            except StaleState:
                continue  # another worker stepped it first
            except Exception:
                log.exception("timer of instance %s failed; retrying later", instance_id)
                self._postpone_timer(instance_id, now + timedelta(minutes=5))
        return handled

    def _postpone_timer(self, instance_id: int, until: datetime) -> None:
        session = self.session
        with self._transaction(session):
            session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                            .values(next_timer_at=until, version=ProcessInstance.version + 1))


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


def _waiting_tasks(workflow: BpmnWorkflow) -> list:
    # A reset can leave tasks in the event manager that are no longer waiting (SPIFFWORKFLOW.md).
    return [t for t in workflow.event_manager.tasks.values() if t.state == TaskState.WAITING]


def _definitions_of(task) -> list:
    """The event definitions a waiting task catches; an event-based gateway catches several."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def waiting_of(workflow: BpmnWorkflow) -> list[dict]:
    """What the instance waits for: messages by name, timers with their due instant (UTC ISO)."""
    waiting = []
    for task in _waiting_tasks(workflow):
        for definition in _definitions_of(task):
            item: dict[str, Any] = {"element_id": task.task_spec.bpmn_id}
            if isinstance(definition, MessageEventDefinition):
                item.update(type="message", name=definition.name)
            elif isinstance(definition, TimerEventDefinition):
                item.update(type="timer", name=definition.name or task.task_spec.bpmn_name,
                            due_at=_timer_due(task, definition))
            else:
                item.update(type=type(definition).__name__, name=definition.name)
            waiting.append(item)
    return waiting


def _timer_due(task, definition) -> str | None:
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


def _positive_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _describe(exc: SpiffWorkflowException) -> str:
    task = getattr(exc, "task", None)
    where = ""
    if task is not None:
        where = f"（{task.task_spec.bpmn_name or task.task_spec.bpmn_id}）"
    return f"流程脚本执行失败{where}：{getattr(exc, 'error_msg', None) or exc}"

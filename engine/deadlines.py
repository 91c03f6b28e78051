"""Deadlines that act (DESIGN decision 4): reminders, overdue marks, escalation chains, urging (催办), pauses while
a case waits on the applicant (补正材料), and whole-instance time limits (办理总时限).

Time limits are declared on user tasks (`dueInWorkingDays`, `remindBeforeWorkingDays`, `escalateTo`); the runtime
computes `due_at`, `remind_at` and the first `next_escalation_at` (= `due_at`) when it creates the task row. This
module acts on them:

* `sweep_reminders` tells the assignee (or the group) once, at `remind_at`, while the task is not yet due;
* `sweep_escalations` marks a task overdue at `due_at` and escalates it to its `escalateTo` role (level 1, in the
  task's own jurisdiction); each further `repeat_after_working_days` working days it is still open, one level up
  the policy's chain (street → district → supervisor) until the top;
* `sweep_instance_limits` marks an instance whose whole time limit has passed.

Every sweep takes `now`, claims its rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL), commits per batch, and moves
each row with a conditional UPDATE, so two workers, overlapping sweeps or a sweep killed half-way never act twice
on a row and never skip one: a killed batch rolls back whole and the next run finds its rows again. Each act is
also a row of `task_deadline_events`, whose UNIQUE (task_id, kind, level) guarantees it is recorded once; only
the transaction that inserted it writes the audit entry (the case history) and the outbox event
(`task.reminder`, `task.overdue`, `task.escalated`, `task.urged`).

Plain SQLAlchemy, no Flask: the web app builds a `Deadlines` from its engine and the domain's escalation policy.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import CursorResult, Select, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, load_only

from .errors import Conflict, InvalidInput, NotFound
from .models import (
    AuditEntry,
    DeadlineEventKind,
    HumanTask,
    InstanceStatus,
    OutboxEvent,
    ProcessInstance,
    TaskDeadlineEvent,
    TaskStatus,
)

if TYPE_CHECKING:
    from .runtime import StepContext

log = logging.getLogger(__name__)

_EPSILON = timedelta(microseconds=1)
SYSTEM = "system"


class WorkingCalendar(Protocol):
    def add_working_days(self, start: datetime, n: int) -> datetime: ...

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime: ...

    def working_days_between(self, a: datetime, b: datetime) -> int: ...

    def shift_by_pause(self, due: datetime, paused_from: datetime, paused_until: datetime) -> datetime: ...


class EngineLike(Protocol):
    """What this module needs of `engine.runtime.Engine`."""

    calendar: Any

    @property
    def session(self) -> Session: ...

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class EscalationPolicy:
    """Where an overdue task goes, level by level.

    `up` maps a role to the role one level up (None or missing: the top of the chain). A task's first escalation
    goes to its declared `escalateTo`, or else one level up from its own role. `role_level` says at which level a
    role works (community, street, district): an escalation keeps the task's district, and its street for a
    street-level role, so it reaches the right office. `repeat_after_working_days` is the further period after which
    a still-open task goes one level higher.
    """

    up: Mapping[str, str | None] = field(default_factory=dict)
    role_level: Mapping[str, str] = field(default_factory=dict)
    repeat_after_working_days: int = 2
    # Told when a whole instance exceeds its time limit.
    instance_overdue_role: str | None = None

    def __post_init__(self):
        if self.repeat_after_working_days < 1:
            raise ValueError("repeat_after_working_days must be at least 1")

    def first_target(self, declared: str | None, role: str | None) -> str | None:
        return declared or (self.up.get(role) if role else None)

    def next_target(self, current: str | None) -> str | None:
        return self.up.get(current) if current else None

    def recipients(self, role: str, district: str | None, street: str | None,
                   community: str | None) -> dict[str, str | None]:
        level = self.role_level.get(role, "district")
        return {
            "role": role,
            "district": district,
            "street": street if level in ("street", "community") else None,
            "community": community if level == "community" else None,
        }


def overdue_working_days(calendar: WorkingCalendar, due_at: datetime | None, now: datetime) -> int:
    """How many working days past its due day a task is: the working days after the due day that have begun.

    A task due 24:00 Tuesday (`due_at` 00:00 Wednesday) is 1 all Wednesday, 2 on Thursday; due 24:00 Friday, it is
    0 over the weekend and 1 on Monday. 0 when not yet due.
    """
    if due_at is None or now < due_at:
        return 0
    return calendar.working_days_between(due_at - _EPSILON, now)


def escalation_due(calendar: WorkingCalendar, due_at: datetime, level: int, period: int) -> datetime:
    """When a task at escalation `level` (≥ 1) goes one level up: `period` × `level` working days after its due day
    ended (24:00 of that working day, as a deadline)."""
    return calendar.add_working_days(due_at - _EPSILON, period * level)


def _recipients_of_task(task: HumanTask) -> dict[str, str | None]:
    if task.assignee:
        return {"assignee": task.assignee}
    return {"role": task.role, "district": task.district, "street": task.street, "community": task.community}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Deadlines:
    def __init__(self, engine: EngineLike, policy: EscalationPolicy | None = None):
        self.engine = engine
        self.policy = policy or EscalationPolicy()

    @property
    def session(self) -> Session:
        return self.engine.session

    @property
    def calendar(self) -> WorkingCalendar:
        if self.engine.calendar is None:
            raise RuntimeError("deadlines need the engine's business calendar")
        return cast(WorkingCalendar, self.engine.calendar)

    # -- sweeps -------------------------------------------------------------------------------------------------
    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Reminders, then escalations, then whole-instance limits, all at one `now`."""
        now = now or self.engine.now()
        return {
            "reminders": self.sweep_reminders(now),
            "escalations": self.sweep_escalations(now),
            "instance_limits": self.sweep_instance_limits(now),
        }

    def sweep_reminders(self, now: datetime, *, limit: int = 2000, batch: int = 100) -> int:
        """Remind the assignee or the group of every open, unpaused task whose reminder time has come and that is
        not yet due (past the due time the overdue mark says more)."""
        def query() -> Select:
            return (select(HumanTask)
                    .where(HumanTask.status == TaskStatus.OPEN, HumanTask.reminded_at.is_(None),
                           HumanTask.remind_at <= now, HumanTask.due_at > now, HumanTask.paused_at.is_(None))
                    .order_by(HumanTask.remind_at, HumanTask.id))

        return self._in_batches(query, lambda task: self._remind(task, now), now, limit, batch,
                                postpone=lambda task: self._postpone_reminder(task, now))

    def sweep_escalations(self, now: datetime, *, limit: int = 2000, batch: int = 100) -> int:
        """Mark overdue and escalate every open, unpaused task whose next escalation time has come."""
        def query() -> Select:
            return (select(HumanTask)
                    .where(HumanTask.status == TaskStatus.OPEN, HumanTask.next_escalation_at <= now,
                           HumanTask.paused_at.is_(None))
                    .order_by(HumanTask.next_escalation_at, HumanTask.id))

        return self._in_batches(query, lambda task: self._escalate(task, now), now, limit, batch,
                                postpone=lambda task: self._postpone_escalation(task, now))

    def sweep_instance_limits(self, now: datetime, *, limit: int = 2000, batch: int = 100) -> int:
        """Mark every running, unpaused instance whose whole time limit has passed (once)."""
        def query() -> Select:
            return (select(ProcessInstance)
                    .where(ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.overdue_at.is_(None),
                           ProcessInstance.due_at <= now, ProcessInstance.paused_at.is_(None))
                    .order_by(ProcessInstance.due_at, ProcessInstance.id)
                    .options(load_only(ProcessInstance.id, ProcessInstance.business_key, ProcessInstance.due_at,
                                       ProcessInstance.time_limit_days, ProcessInstance.time_limit_max_days,
                                       ProcessInstance.district, ProcessInstance.street,
                                       ProcessInstance.community)))

        # A failing instance is logged and looked at again by the next sweep (the examined count bounds this one).
        return self._in_batches(query, lambda instance: self._instance_overdue(instance, now), now, limit, batch,
                                postpone=lambda instance: None)

    def _in_batches(self, query: Callable[[], Select], handle: Callable[[Any], bool], now: datetime, limit: int,
                    batch: int, postpone: Callable[[Any], None] | None = None) -> int:
        """Claim rows batch by batch (SKIP LOCKED), handle each in a savepoint, commit each batch; repeat until
        nothing is due (or `limit` rows were looked at).

        A failing row is logged and postponed (retried by a later sweep), never stops the sweep. Anything that
        escapes — a killed worker — rolls the open batch back whole.
        """
        handled = examined = 0
        while examined < limit:
            with self._transaction() as session:
                rows = session.scalars(
                    query().limit(min(batch, limit - examined)).with_for_update(skip_locked=True)
                    .execution_options(populate_existing=True)
                ).all()
                if not rows:
                    break
                progress = 0
                for row in rows:
                    examined += 1
                    try:
                        with session.begin_nested():
                            if handle(row):
                                progress += 1
                    except Exception:
                        log.exception("deadline sweep: %s %s failed; retrying later", type(row).__name__, row.id)
                        if postpone is not None:
                            postpone(row)
                handled += progress
            # A row handled here may be due again at once (a task many levels behind after downtime): look again,
            # unless this batch moved nothing (another worker holds those rows, or they failed).
            if not progress:
                break
        return handled

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        session = self.session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    # -- one row each -------------------------------------------------------------------------------------------
    def _remind(self, task: HumanTask, now: datetime) -> bool:
        claimed = self._update_task(task.id, [HumanTask.reminded_at.is_(None)], reminded_at=now)
        if not claimed:
            return False
        recipients = _recipients_of_task(task)
        self._record(task, DeadlineEventKind.REMINDER, 0, now, target_role=recipients.get("role"),
                     target_user=recipients.get("assignee"),
                     audit_action="task_reminded", event_type="task.reminder",
                     payload={"recipients": recipients, "remind_at": _iso(task.remind_at)})
        return True

    def _escalate(self, task: HumanTask, now: datetime) -> bool:
        policy, level = self.policy, task.escalation_level or 0
        if level == 0:
            target = policy.first_target(task.escalate_to, task.role)
            new_level = 1 if target else 0
        else:
            target = policy.next_target(task.escalate_to)
            new_level = level + 1 if target else level
        values: dict[str, Any] = {"next_escalation_at": None}
        if target and task.due_at is not None and policy.next_target(target):
            values["next_escalation_at"] = escalation_due(self.calendar, task.due_at, new_level,
                                                          policy.repeat_after_working_days)
        conditions = [HumanTask.escalation_level == level]
        if level == 0:
            values["overdue_at"] = now
            conditions.append(HumanTask.overdue_at.is_(None))
            if task.reminded_at is None:
                values["remind_at"] = None  # never sent, now moot: leave the reminder index
        if target:
            values.update(escalation_level=new_level, escalated_at=now, escalate_to=target)
        if not self._update_task(task.id, conditions, **values):
            return False
        age = overdue_working_days(self.calendar, task.due_at, now)
        if level == 0:
            self._record(task, DeadlineEventKind.OVERDUE, 0, now, target_role=task.role,
                         target_user=task.assignee, audit_action="task_overdue", event_type="task.overdue",
                         payload={"recipients": _recipients_of_task(task), "overdue_working_days": age})
        if target:
            recipients = policy.recipients(target, task.district, task.street, task.community)
            self._record(task, DeadlineEventKind.ESCALATED, new_level, now, target_role=target,
                         audit_action="task_escalated", event_type="task.escalated",
                         payload={"recipients": recipients, "from_level": level, "overdue_working_days": age,
                                  "next_escalation_at": _iso(values["next_escalation_at"])})
        return True

    def _instance_overdue(self, instance: ProcessInstance, now: datetime) -> bool:
        result = cast(CursorResult, self.session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance.id, ProcessInstance.overdue_at.is_(None),
                   ProcessInstance.status == InstanceStatus.RUNNING)
            .values(overdue_at=now)
            .execution_options(synchronize_session=False)
        ))
        if result.rowcount != 1:
            return False
        detail = {"due_at": _iso(instance.due_at), "time_limit_days": instance.time_limit_days,
                  "time_limit_max_days": instance.time_limit_max_days}
        self.session.add(AuditEntry(instance_id=instance.id, at=now, actor=SYSTEM, action="process_overdue",
                                    detail=detail))
        recipients = None
        if self.policy.instance_overdue_role:
            recipients = self.policy.recipients(self.policy.instance_overdue_role, instance.district,
                                                instance.street, instance.community)
        self._emit("process.overdue", dict(detail, recipients=recipients), now, instance.id, instance.business_key)
        return True

    def _postpone_reminder(self, task: HumanTask, now: datetime) -> None:
        self._update_task(task.id, [], remind_at=now + timedelta(minutes=5))

    def _postpone_escalation(self, task: HumanTask, now: datetime) -> None:
        self._update_task(task.id, [], next_escalation_at=now + timedelta(minutes=5))

    def _update_task(self, task_id: int, conditions: list, **values: Any) -> bool:
        result = cast(CursorResult, self.session.execute(
            update(HumanTask)
            .where(HumanTask.id == task_id, HumanTask.status == TaskStatus.OPEN, *conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        ))
        return result.rowcount == 1

    # -- recording ----------------------------------------------------------------------------------------------
    def _record(self, task: HumanTask, kind: DeadlineEventKind, level: int, now: datetime, *,
                audit_action: str, event_type: str, payload: dict, actor: str = SYSTEM,
                target_role: str | None = None, target_user: str | None = None,
                message: str | None = None) -> bool:
        """Insert the event row; only if this call inserted it, write the audit entry and the outbox event."""
        row = {
            "task_id": task.id, "instance_id": task.instance_id, "kind": kind, "level": level, "at": now,
            "actor": actor, "target_role": target_role, "target_user": target_user, "district": task.district,
            "street": task.street, "due_at": task.due_at, "message": message,
        }
        if not self._insert_once(row):
            return False
        detail = {"kind": kind.value, "level": level, "due_at": _iso(task.due_at)}
        if target_role:
            detail["target_role"] = target_role
        if target_user:
            detail["target_user"] = target_user
        self.session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=actor,
                                    action=audit_action, element_id=task.element_id, element_name=task.name,
                                    opinion=message, detail=detail))
        body = {"task_id": task.id, "process_instance_id": task.instance_id, "business_key": task.business_key,
                "element_id": task.element_id, "name": task.name, "level": level, "due_at": _iso(task.due_at),
                "district": task.district, "street": task.street, "community": task.community}
        body.update(payload)
        self._emit(event_type, body, now, task.instance_id, task.business_key)
        return True

    def _insert_once(self, row: dict) -> bool:
        session = self.session
        dialect = session.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            # RETURNING answers whether this statement inserted the row (rowcount is not reliable with it).
            inserted = session.execute(
                insert(TaskDeadlineEvent).values(**row)
                .on_conflict_do_nothing(index_elements=["task_id", "kind", "level"])
                .returning(TaskDeadlineEvent.id)
            ).scalar()
            return inserted is not None
        exists = session.scalar(select(func.count()).select_from(TaskDeadlineEvent).where(
            TaskDeadlineEvent.task_id == row["task_id"], TaskDeadlineEvent.kind == row["kind"],
            TaskDeadlineEvent.level == row["level"]))
        if exists:
            return False
        session.add(TaskDeadlineEvent(**row))
        session.flush()
        return True

    def _emit(self, event_type: str, payload: dict, now: datetime, instance_id: int | None,
              business_key: str | None) -> None:
        self.session.add(OutboxEvent(event_type=event_type, instance_id=instance_id, business_key=business_key,
                                     payload=payload, created_at=now, next_attempt_at=now))

    # -- actions ------------------------------------------------------------------------------------------------
    def urge(self, task_id: int, *, actor: str, message: str | None = None) -> TaskDeadlineEvent:
        """催办: a supervisor presses the holder of an open task; recorded as the task's next urging."""
        now = self.engine.now()
        with self._transaction() as session:
            task = session.get(HumanTask, task_id, populate_existing=True)
            if task is None:
                raise NotFound("任务不存在")
            if task.status != TaskStatus.OPEN:
                raise Conflict("该任务已办结，无需催办")
            number = (session.scalar(select(func.max(TaskDeadlineEvent.level)).where(
                TaskDeadlineEvent.task_id == task_id, TaskDeadlineEvent.kind == DeadlineEventKind.URGED)) or 0) + 1
            recipients = _recipients_of_task(task)
            text = (message or "").strip() or None
            if not self._record(task, DeadlineEventKind.URGED, number, now, actor=actor, message=text,
                                target_role=recipients.get("role"), target_user=recipients.get("assignee"),
                                audit_action="task_urged", event_type="task.urged",
                                payload={"recipients": recipients, "by": actor, "message": text,
                                         "overdue_working_days": overdue_working_days(self.calendar, task.due_at,
                                                                                      now)}):
                raise Conflict("同时有其他人催办了该任务，请刷新后重试")
            event = session.scalars(select(TaskDeadlineEvent).where(
                TaskDeadlineEvent.task_id == task_id, TaskDeadlineEvent.kind == DeadlineEventKind.URGED,
                TaskDeadlineEvent.level == number)).one()
        return event

    def pause(self, instance_id: int, *, actor: str, reason: str) -> ProcessInstance:
        """Stop an instance's clocks while it waits on the applicant (补正材料)."""
        with self._transaction() as session:
            instance = self._locked_instance(instance_id)
            self.pause_in_step(session, instance, self.engine.now(), actor=actor, reason=reason)
        return instance

    def resume(self, instance_id: int, *, actor: str, reason: str | None = None) -> ProcessInstance:
        """Restart an instance's clocks; every open task's deadlines move by the working days the pause covered."""
        with self._transaction() as session:
            instance = self._locked_instance(instance_id)
            self.resume_in_step(session, instance, self.engine.now(), actor=actor, reason=reason)
        return instance

    def extend(self, instance_id: int, days: int, *, actor: str, reason: str) -> ProcessInstance:
        """Extend the whole time limit to `days` working days (at most the limit's declared maximum)."""
        with self._transaction() as session:
            instance = self._locked_instance(instance_id)
            self.extend_in_step(session, instance, self.engine.now(), days, actor=actor, reason=reason)
        return instance

    def _locked_instance(self, instance_id: int) -> ProcessInstance:
        instance = self.session.scalars(
            select(ProcessInstance).where(ProcessInstance.id == instance_id)
            .with_for_update(of=ProcessInstance).execution_options(populate_existing=True)
        ).first()
        if instance is None:
            raise NotFound("流程实例不存在")
        if instance.status != InstanceStatus.RUNNING:
            raise Conflict("流程实例已结束")
        return instance

    # The *_in_step variants work inside a transaction that already holds the instance (a BPMN script's step).
    def pause_in_step(self, session: Session, instance: ProcessInstance, now: datetime, *, actor: str | None,
                      reason: str | None, step: StepContext | None = None) -> None:
        if instance.paused_at is not None:
            raise Conflict("办理时限已经暂停")
        instance.paused_at = now
        session.execute(
            update(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN,
                   HumanTask.paused_at.is_(None))
            .values(paused_at=now)
            .execution_options(synchronize_session="fetch")
        )
        self._history(session, step, instance, now, actor, "deadlines_paused", opinion=reason)
        self._event(step, "process.deadlines_paused", {"reason": reason, "by": actor}, now, instance)

    def resume_in_step(self, session: Session, instance: ProcessInstance, now: datetime, *, actor: str | None,
                       reason: str | None = None, step: StepContext | None = None) -> int:
        """Returns the working days the instance's pause covered."""
        paused_from = instance.paused_at
        if paused_from is None:
            raise Conflict("办理时限未暂停")
        calendar = self.calendar
        tasks = session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN,
                                    HumanTask.paused_at.is_not(None))
            .execution_options(populate_existing=True)
        ).all()
        for task in tasks:
            since = task.paused_at
            assert since is not None
            days = calendar.working_days_between(since, now)
            if days and task.due_at is not None:
                due = calendar.shift_by_pause(task.due_at, since, now)
                if task.remind_at is not None and task.reminded_at is None:
                    # A reminder is the start of a working day, n working days before the due day: keep n.
                    before = calendar.working_days_between(task.remind_at - _EPSILON, task.due_at - _EPSILON)
                    task.remind_at = calendar.subtract_working_days(due, before) if before else due
                if task.next_escalation_at is not None:
                    # Level 0: the overdue mark is at the due time; higher levels are deadlines themselves.
                    task.next_escalation_at = due if not task.escalation_level else calendar.shift_by_pause(
                        task.next_escalation_at, since, now)
                task.due_at = due
            task.paused_working_days = (task.paused_working_days or 0) + days
            task.paused_at = None
        covered = calendar.working_days_between(paused_from, now)
        if instance.due_at is not None and covered:
            instance.due_at = calendar.shift_by_pause(instance.due_at, paused_from, now)
        instance.paused_at = None
        detail = {"paused_working_days": covered, "due_at": _iso(instance.due_at)}
        self._history(session, step, instance, now, actor, "deadlines_resumed", opinion=reason, detail=detail)
        self._event(step, "process.deadlines_resumed", dict(detail, by=actor), now, instance)
        return covered

    def set_limit_in_step(self, session: Session, instance: ProcessInstance, now: datetime, days: int,
                          max_days: int | None = None, step: StepContext | None = None) -> datetime:
        """The whole instance must be done within `days` working days from now (extendable up to `max_days`)."""
        days, limit = _positive(days, "days"), _positive(max_days if max_days is not None else days, "max_days")
        if limit < days:
            raise InvalidInput("延长后的时限不能短于原时限", {"max_days": [f"须不小于 {days}"]})
        instance.time_limit_days, instance.time_limit_max_days = days, limit
        instance.due_at = self.calendar.add_working_days(now, days)
        instance.overdue_at = None
        self._history(session, step, instance, now, SYSTEM, "time_limit_set",
                      detail={"time_limit_days": days, "time_limit_max_days": limit, "due_at": _iso(instance.due_at)})
        return instance.due_at

    def extend_in_step(self, session: Session, instance: ProcessInstance, now: datetime, days: int, *,
                       actor: str | None, reason: str | None, step: StepContext | None = None) -> datetime:
        current, limit = instance.time_limit_days, instance.time_limit_max_days
        if current is None or instance.due_at is None:
            raise Conflict("该流程没有设置办理总时限")
        days = _positive(days, "days")
        if days <= current:
            raise InvalidInput("延长后的时限须长于当前时限", {"days": [f"须大于 {current}"]})
        if limit is not None and days > limit:
            raise InvalidInput(f"办理总时限最多延长到 {limit} 个工作日", {"days": [f"不能超过 {limit}"]})
        before = instance.due_at
        instance.due_at = self.calendar.add_working_days(before - _EPSILON, days - current)
        instance.time_limit_days = days
        if instance.overdue_at is not None and instance.due_at > now:
            instance.overdue_at = None
        detail = {"from_days": current, "time_limit_days": days, "from_due_at": _iso(before),
                  "due_at": _iso(instance.due_at)}
        self._history(session, step, instance, now, actor, "time_limit_extended", opinion=reason, detail=detail)
        self._event(step, "process.time_limit_extended", dict(detail, by=actor, reason=reason), now, instance)
        return instance.due_at

    def _history(self, session: Session, step: StepContext | None, instance: ProcessInstance, now: datetime,
                 actor: str | None, action: str, *, opinion: str | None = None, detail: dict | None = None) -> None:
        # Inside a step, through the step's own buffer, so the case history keeps the step's order.
        if step is not None:
            step.audit(action, opinion=opinion, detail=detail)
            return
        session.add(AuditEntry(instance_id=instance.id, at=now, actor=actor or SYSTEM, action=action,
                               opinion=opinion, detail=detail))

    def _event(self, step: StepContext | None, event_type: str, payload: dict, now: datetime,
               instance: ProcessInstance) -> None:
        if step is not None:
            step.emit(event_type, payload)
            return
        self._emit(event_type, payload, now, instance.id, instance.business_key)


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 1:
        raise InvalidInput("时限须为正整数（工作日数）", {name: ["须为正整数"]})
    return int(value)

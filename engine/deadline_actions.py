"""Deadline actions people (and BPMN scripts) take: urge (催办), pause and resume the clocks while a case waits
on the applicant (补正材料), set and extend the whole-instance time limit (办理总时限).

`pause`, `resume` and `extend` lock the instance row and commit on their own; the `*_in_step` variants do the same
work inside a transaction that already holds the instance (a BPMN script's step) and write their history through
that step's buffers, so the case history keeps the step's order.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .audit import AuditAction
from .deadline_policy import EPSILON, iso, overdue_working_days, recipients_of_task
from .deadline_records import SYSTEM, DeadlineRecords
from .errors import Conflict, InvalidInput, NotFound
from .models import (
    AuditEntry,
    DeadlineEventKind,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskDeadlineEvent,
    TaskStatus,
)
from .step import StepContext


class DeadlineActions(DeadlineRecords):
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
            recipients = recipients_of_task(task)
            text = (message or "").strip() or None
            if not self._record(task, DeadlineEventKind.URGED, number, now, actor=actor, message=text,
                                target_role=recipients.get("role"), target_user=recipients.get("assignee"),
                                audit_action=AuditAction.TASK_URGED, event_type="task.urged",
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
        instance = self.session.scalars(ProcessInstance.locked(instance_id)).first()
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
        self._history(session, step, instance, now, actor, AuditAction.DEADLINES_PAUSED, opinion=reason)
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
                    before = calendar.working_days_between(task.remind_at - EPSILON, task.due_at - EPSILON)
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
        detail = {"paused_working_days": covered, "due_at": iso(instance.due_at)}
        self._history(session, step, instance, now, actor, AuditAction.DEADLINES_RESUMED, opinion=reason, detail=detail)
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
        self._history(session, step, instance, now, SYSTEM, AuditAction.TIME_LIMIT_SET,
                      detail={"time_limit_days": days, "time_limit_max_days": limit, "due_at": iso(instance.due_at)})
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
        instance.due_at = self.calendar.add_working_days(before - EPSILON, days - current)
        instance.time_limit_days = days
        if instance.overdue_at is not None and instance.due_at > now:
            instance.overdue_at = None
        detail = {"from_days": current, "time_limit_days": days, "from_due_at": iso(before),
                  "due_at": iso(instance.due_at)}
        self._history(session, step, instance, now, actor, AuditAction.TIME_LIMIT_EXTENDED, opinion=reason, detail=detail)
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

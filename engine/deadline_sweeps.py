"""The deadline sweeps (DESIGN decisions 4 and 5): reminders, overdue marks and escalations, whole-instance limits.

* `sweep_reminders` tells the assignee (or the group) once, at `remind_at`, while the task is not yet due;
* `sweep_escalations` marks a task overdue at `due_at` and escalates it to its `escalateTo` role (level 1, in the
  task's own jurisdiction); each further `repeat_after_working_days` working days it is still open, one level up
  the policy's chain (street → district → supervisor) until the top;
* `sweep_instance_limits` marks an instance whose whole time limit has passed.

Each is one idempotent job: it takes `now`, claims its rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL), skipping
what another worker holds, commits per batch, and moves each row with a conditional UPDATE, so two workers,
overlapping sweeps or a sweep killed half-way never act twice on a row and never skip one: a killed batch rolls
back whole and the next run finds its rows again. A broken row is logged and postponed, and the sweep moves on;
each returns how many rows it handled.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.orm import load_only

from .audit import AuditAction
from .deadline_policy import escalation_due, iso, overdue_working_days, recipients_of_task
from .deadline_records import SYSTEM, DeadlineRecords
from .models import AuditEntry, DeadlineEventKind, HumanTask, InstanceStatus, ProcessInstance, TaskStatus

log = logging.getLogger(__name__)

# How long a row whose handling failed waits before a later sweep tries it again.
RETRY_FAILED_AFTER = timedelta(minutes=5)


def _not_in_incident():
    """A task whose instance is parked as an incident cannot be worked on: no reminders or escalations meanwhile
    (they catch up once the incident is retried)."""
    return HumanTask.instance_id.not_in(
        select(ProcessInstance.id).where(ProcessInstance.status == InstanceStatus.INCIDENT).scalar_subquery())


class DeadlineSweeps(DeadlineRecords):
    def sweep(self, now: datetime | None = None, *, should_stop: Callable[[], bool] | None = None) -> dict[str, int]:
        """Reminders, then escalations, then whole-instance limits, all at one `now`.

        `should_stop` is asked between batches: a worker shutting down leaves the rest to the next sweep.
        """
        now = now or self.engine.now()
        return {
            "reminders": self.sweep_reminders(now, should_stop=should_stop),
            "escalations": self.sweep_escalations(now, should_stop=should_stop),
            "instance_limits": self.sweep_instance_limits(now, should_stop=should_stop),
        }

    def sweep_reminders(self, now: datetime, *, limit: int = 2000, batch: int = 100,
                        should_stop: Callable[[], bool] | None = None) -> int:
        """Remind the assignee or the group of every open, unpaused task whose reminder time has come and that is
        not yet due (past the due time the overdue mark says more)."""
        def query() -> Select:
            return (select(HumanTask)
                    .where(HumanTask.status == TaskStatus.OPEN, HumanTask.reminded_at.is_(None),
                           HumanTask.remind_at <= now, HumanTask.due_at > now, HumanTask.paused_at.is_(None),
                           _not_in_incident())
                    .order_by(HumanTask.remind_at, HumanTask.id))

        return self._in_batches(query, lambda task: self._remind(task, now), now, limit, batch,
                                postpone=lambda task: self._postpone_reminder(task, now), should_stop=should_stop)

    def sweep_escalations(self, now: datetime, *, limit: int = 2000, batch: int = 100,
                          should_stop: Callable[[], bool] | None = None) -> int:
        """Mark overdue and escalate every open, unpaused task whose next escalation time has come."""
        def query() -> Select:
            return (select(HumanTask)
                    .where(HumanTask.status == TaskStatus.OPEN, HumanTask.next_escalation_at <= now,
                           HumanTask.paused_at.is_(None), _not_in_incident())
                    .order_by(HumanTask.next_escalation_at, HumanTask.id))

        return self._in_batches(query, lambda task: self._escalate(task, now), now, limit, batch,
                                postpone=lambda task: self._postpone_escalation(task, now), should_stop=should_stop)

    def sweep_instance_limits(self, now: datetime, *, limit: int = 2000, batch: int = 100,
                              should_stop: Callable[[], bool] | None = None) -> int:
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
                                postpone=lambda instance: None, should_stop=should_stop)

    def _in_batches(self, query: Callable[[], Select], handle: Callable[[Any], bool], now: datetime, limit: int,
                    batch: int, postpone: Callable[[Any], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> int:
        """Claim rows batch by batch (SKIP LOCKED), handle each in a savepoint, commit each batch; repeat until
        nothing is due (or `limit` rows were looked at).

        A failing row is logged and postponed (retried by a later sweep), never stops the sweep. Anything that
        escapes — a killed worker — rolls the open batch back whole.
        """
        handled = examined = 0
        while examined < limit and not (should_stop is not None and should_stop()):
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

    # -- one row each ---------------------------------------------------------------------------------------------
    def _remind(self, task: HumanTask, now: datetime) -> bool:
        claimed = self._update_task(task.id, [HumanTask.reminded_at.is_(None)], reminded_at=now)
        if not claimed:
            return False
        recipients = recipients_of_task(task)
        self._record(task, DeadlineEventKind.REMINDER, 0, now, target_role=recipients.get("role"),
                     target_user=recipients.get("assignee"),
                     audit_action=AuditAction.TASK_REMINDED, event_type="task.reminder",
                     payload={"recipients": recipients, "remind_at": iso(task.remind_at)})
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
                         target_user=task.assignee, audit_action=AuditAction.TASK_OVERDUE, event_type="task.overdue",
                         payload={"recipients": recipients_of_task(task), "overdue_working_days": age})
        if target:
            recipients = policy.recipients(target, task.district, task.street, task.community, task.agency)
            self._record(task, DeadlineEventKind.ESCALATED, new_level, now, target_role=target,
                         audit_action=AuditAction.TASK_ESCALATED, event_type="task.escalated",
                         payload={"recipients": recipients, "from_level": level, "overdue_working_days": age,
                                  "next_escalation_at": iso(values["next_escalation_at"])})
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
        detail = {"due_at": iso(instance.due_at), "time_limit_days": instance.time_limit_days,
                  "time_limit_max_days": instance.time_limit_max_days}
        self.session.add(AuditEntry(instance_id=instance.id, at=now, actor=SYSTEM, action=AuditAction.PROCESS_OVERDUE,
                                    detail=detail))
        recipients = None
        if self.policy.instance_overdue_role:
            recipients = self.policy.recipients(self.policy.instance_overdue_role, instance.district,
                                                instance.street, instance.community)
        self._emit("process.overdue", dict(detail, recipients=recipients), now, instance.id, instance.business_key)
        return True

    def _postpone_reminder(self, task: HumanTask, now: datetime) -> None:
        self._update_task(task.id, [], remind_at=now + RETRY_FAILED_AFTER)

    def _postpone_escalation(self, task: HumanTask, now: datetime) -> None:
        self._update_task(task.id, [], next_escalation_at=now + RETRY_FAILED_AFTER)

    def _update_task(self, task_id: int, conditions: list, **values: Any) -> bool:
        result = cast(CursorResult, self.session.execute(
            update(HumanTask)
            .where(HumanTask.id == task_id, HumanTask.status == TaskStatus.OPEN, *conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        ))
        return result.rowcount == 1

"""Deadlines that act (DESIGN decision 4): reminders, overdue marks, escalation chains, urging (催办), pauses while
a case waits on the applicant (补正材料), and whole-instance time limits (办理总时限).

Time limits are declared on user tasks (`dueInWorkingDays`, `remindBeforeWorkingDays`, `escalateTo`); the task
projection (engine/task_projection.py) computes `due_at`, `remind_at` and the first `next_escalation_at`
(= `due_at`) when it creates the task row. The `Deadlines` service acts on them, composed of:

* engine/deadline_policy.py — the escalation policy and the working-day arithmetic of being late;
* engine/deadline_records.py — recording an act once (event row, case history, outbox event);
* engine/deadline_sweeps.py — the idempotent sweep jobs (remind, mark overdue and escalate, instance limits);
* engine/deadline_actions.py — urge, pause, resume, set and extend the whole limit.

Each act is a row of `task_deadline_events`, whose UNIQUE (task_id, kind, level) guarantees it is recorded once;
only the transaction that inserted it writes the audit entry (the case history) and the outbox event
(`task.reminder`, `task.overdue`, `task.escalated`, `task.urged`).

Plain SQLAlchemy, no Flask: the web app builds a `Deadlines` from its engine and the domain's escalation policy.
"""
from __future__ import annotations

from .deadline_actions import DeadlineActions
from .deadline_policy import EscalationPolicy, WorkingCalendar, escalation_due, overdue_working_days
from .deadline_records import SYSTEM, EngineLike
from .deadline_sweeps import DeadlineSweeps

__all__ = [
    "SYSTEM", "Deadlines", "EngineLike", "EscalationPolicy", "WorkingCalendar", "escalation_due",
    "overdue_working_days",
]


class Deadlines(DeadlineSweeps, DeadlineActions):
    """The deadline service of one engine: `Deadlines(engine, policy)`; sweeps and manual actions."""

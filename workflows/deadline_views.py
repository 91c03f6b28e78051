"""An instance's deadlines at a glance (the read model behind `GET /process-instances/{id}/deadlines` and the
dashboard's case page), and which roles may act on deadlines: urge (催办), pause/resume, extend."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.calendar import BusinessCalendar
from engine.deadline_policy import iso
from engine.deadlines import overdue_working_days
from engine.models import HumanTask, ProcessInstance, TaskDeadlineEvent, TaskStatus

URGE_ROLES = ("supervisor", "district_approver", "street_reviewer")
PAUSE_ROLES = ("community_worker", "street_clerk", "street_reviewer", "district_inspector", "district_approver")
EXTEND_ROLES = ("street_reviewer", "district_approver")


def event_item(event: TaskDeadlineEvent) -> dict:
    return {"id": event.id, "task_id": event.task_id, "kind": event.kind.value, "level": event.level,
            "at": iso(event.at), "actor": event.actor, "target_role": event.target_role,
            "target_user": event.target_user, "due_at": iso(event.due_at), "message": event.message}


def instance_deadlines(session: Session, calendar: BusinessCalendar, instance: ProcessInstance,
                       now: datetime) -> dict:
    """The whole time limit, every task's due / reminder / escalation state and the deadline events, as of `now`."""
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)).all()
    events = session.scalars(
        select(TaskDeadlineEvent).where(TaskDeadlineEvent.instance_id == instance.id)
        .order_by(TaskDeadlineEvent.id)).all()
    return {
        "process_instance_id": instance.id,
        "process_key": instance.process_key,
        "status": instance.status.value,
        "time_limit_days": instance.time_limit_days,
        "time_limit_max_days": instance.time_limit_max_days,
        "due_at": iso(instance.due_at),
        "overdue": bool(instance.due_at and instance.status.value == "running" and instance.due_at < now
                        and instance.paused_at is None),
        "overdue_at": iso(instance.overdue_at),
        "paused_at": iso(instance.paused_at),
        "tasks": [{
            "id": t.id, "name": t.name, "element_id": t.element_id, "role": t.role, "assignee": t.assignee,
            "status": t.status.value, "created_at": iso(t.created_at), "completed_at": iso(t.completed_at),
            "due_at": iso(t.due_at), "remind_at": iso(t.remind_at), "reminded_at": iso(t.reminded_at),
            "overdue": t.is_overdue(now),
            "overdue_working_days": overdue_working_days(calendar, t.due_at, now)
            if t.status == TaskStatus.OPEN and t.paused_at is None else 0,
            "overdue_at": iso(t.overdue_at), "escalation_level": t.escalation_level or 0,
            "escalate_to": t.escalate_to, "escalated_at": iso(t.escalated_at),
            "next_escalation_at": iso(t.next_escalation_at), "paused_at": iso(t.paused_at),
            "paused_working_days": t.paused_working_days or 0,
        } for t in tasks],
        "events": [event_item(e) for e in events],
    }

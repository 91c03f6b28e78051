"""Deadline policy: who an overdue task goes to, level by level, and the working-day arithmetic of being late.

Pure functions and a frozen dataclass, no database: the sweeps (engine/deadline_sweeps.py), the manual actions
(engine/deadline_actions.py) and the reports all count "days overdue" and "next escalation" the same way here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from .models import HumanTask

# A deadline is an instant (00:00 after the due day); one microsecond before it is still the due day itself.
EPSILON = timedelta(microseconds=1)


class WorkingCalendar(Protocol):
    def add_working_days(self, start: datetime, n: int) -> datetime: ...

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime: ...

    def working_days_between(self, a: datetime, b: datetime) -> int: ...

    def shift_by_pause(self, due: datetime, paused_from: datetime, paused_until: datetime) -> datetime: ...


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
    # Roles held for one agency: an escalation to them goes to the task's own agency.
    agency_roles: frozenset[str] = frozenset()

    def __post_init__(self):
        if self.repeat_after_working_days < 1:
            raise ValueError("repeat_after_working_days must be at least 1")

    def first_target(self, declared: str | None, role: str | None) -> str | None:
        return declared or (self.up.get(role) if role else None)

    def next_target(self, current: str | None) -> str | None:
        return self.up.get(current) if current else None

    def recipients(self, role: str, district: str | None, street: str | None,
                   community: str | None, agency: str | None = None) -> dict[str, str | None]:
        level = self.role_level.get(role, "district")
        found: dict[str, str | None] = {
            "role": role,
            "district": district,
            "street": street if level in ("street", "community") else None,
            "community": community if level == "community" else None,
        }
        if role in self.agency_roles:
            found["agency"] = agency
        return found


def overdue_working_days(calendar: WorkingCalendar, due_at: datetime | None, now: datetime) -> int:
    """How many working days past its due day a task is: the working days after the due day that have begun.

    A task due 24:00 Tuesday (`due_at` 00:00 Wednesday) is 1 all Wednesday, 2 on Thursday; due 24:00 Friday, it is
    0 over the weekend and 1 on Monday. 0 when not yet due.
    """
    if due_at is None or now < due_at:
        return 0
    return calendar.working_days_between(due_at - EPSILON, now)


def escalation_due(calendar: WorkingCalendar, due_at: datetime, level: int, period: int) -> datetime:
    """When a task at escalation `level` (≥ 1) goes one level up: `period` × `level` working days after its due day
    ended (24:00 of that working day, as a deadline)."""
    return calendar.add_working_days(due_at - EPSILON, period * level)


def recipients_of_task(task: HumanTask) -> dict[str, str | None]:
    """Who is told about a task's own deadline: its holder, or else its group in its jurisdiction."""
    if task.assignee:
        return {"assignee": task.assignee}
    found: dict[str, str | None] = {"role": task.role, "district": task.district, "street": task.street,
                                    "community": task.community}
    if task.agency:
        found["agency"] = task.agency
    return found


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

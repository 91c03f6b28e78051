"""What a simulation run hands back: its progress while it runs, and the tasks and counts the report is made from
(the scratch database is gone after the run, so the result carries what the report needs)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from .scenario import Scenario


@dataclass(frozen=True)
class Progress:
    day: int  # 1-based
    total: int
    date: date
    open_tasks: int


@dataclass(frozen=True)
class TaskRecord:
    """One human task as the report needs it (the scratch database is gone after the run)."""

    process_key: str
    element_id: str
    name: str
    role: str | None
    street: str | None
    created_at: datetime
    closed_at: datetime | None  # completed, or cancelled (a cancelled task counts as never done)
    completed: bool
    due_at: datetime | None
    overdue_at: datetime | None

    @property
    def step(self) -> str:
        """`process/element`: the same element id in two processes (街道审核 of 低保 and of 复核) is two steps."""
        return f"{self.process_key}/{self.element_id}"


@dataclass
class RunResult:
    scenario: Scenario
    days: int
    working_days: int
    seconds: float
    cases: Counter = field(default_factory=Counter)  # by case status
    completed_tasks: int = 0
    messages: int = 0
    reviews: int = 0  # periodic reviews started
    tasks: list[TaskRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    step_order: list[str] = field(default_factory=list)  # steps (process/element) by process, then as reached

    @property
    def days_per_second(self) -> float:
        return self.days / self.seconds if self.seconds > 0 else float("inf")

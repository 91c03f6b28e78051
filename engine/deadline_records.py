"""Recording a deadline act once: the `task_deadline_events` row, the case history entry and the outbox event.

`DeadlineRecords` is the base of the `Deadlines` service (engine/deadlines.py): the engine it works for, the
escalation policy, its transaction, and `_record`, which only writes history and outbox when its own INSERT of the
event row won (UNIQUE (task_id, kind, level)), so two workers never announce the same act twice.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .deadline_policy import EscalationPolicy, WorkingCalendar, iso
from .models import AuditEntry, DeadlineEventKind, HumanTask, OutboxEvent, TaskDeadlineEvent

SYSTEM = "system"


class EngineLike(Protocol):
    """What the deadline service needs of `engine.runtime.Engine`."""

    calendar: Any

    @property
    def session(self) -> Session: ...

    def now(self) -> datetime: ...


class DeadlineRecords:
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

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        session = self.session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

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
        detail = {"kind": kind.value, "level": level, "due_at": iso(task.due_at)}
        if target_role:
            detail["target_role"] = target_role
        if target_user:
            detail["target_user"] = target_user
        self.session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=actor,
                                    action=audit_action, element_id=task.element_id, element_name=task.name,
                                    opinion=message, detail=detail))
        body = {"task_id": task.id, "process_instance_id": task.instance_id, "business_key": task.business_key,
                "element_id": task.element_id, "name": task.name, "level": level, "due_at": iso(task.due_at),
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

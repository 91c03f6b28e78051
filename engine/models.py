"""Engine tables: definitions, instances (one row each), the human-task projection, audit and outbox.

Plain SQLAlchemy so the engine runs without Flask; the web app shares this `Base.metadata` with Flask-SQLAlchemy
and Alembic.
"""
from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .audit import AuditActionType

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids on PostgreSQL, but SQLite only autoincrements a plain INTEGER primary key.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware instant")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as the value string (readable in SQL), checked by a constraint only in Python: adding a member must
    # not need a table rewrite on SQLite.
    return Enum(cls, native_enum=False, values_callable=lambda e: [m.value for m in e], length=20,
                validate_strings=True)


_S = TypeVar("_S", bound="StatusEnum")


class StatusEnum(enum.StrEnum):
    """An enum whose members declare which statuses they may move to."""

    @classmethod
    def transitions(cls) -> dict[StatusEnum, set[StatusEnum]]:  # pragma: no cover - overridden
        return {}

    def can_become(self, other: StatusEnum) -> bool:
        return other in type(self).transitions().get(self, set())

    def to(self: _S, other: _S) -> _S:
        if not self.can_become(other):
            raise ValueError(f"{type(self).__name__}: {self.value} → {other.value} is not allowed")
        return other


class InstanceStatus(StatusEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"
    # A background step failed (engine.incidents): the sweeps leave it alone until an admin retries it.
    INCIDENT = "incident"

    @classmethod
    def transitions(cls):
        return {
            cls.RUNNING: {cls.COMPLETED, cls.CANCELLED, cls.ERROR, cls.INCIDENT},
            cls.ERROR: {cls.RUNNING, cls.CANCELLED},
            cls.INCIDENT: {cls.RUNNING, cls.CANCELLED},
        }


class TaskStatus(StatusEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @classmethod
    def transitions(cls):
        return {cls.OPEN: {cls.COMPLETED, cls.CANCELLED}}


class ProcessDefinition(Base):
    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    # Deferred: listing versions must not drag every diagram and spec out of the database.
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    # The SpiffWorkflow spec, serialized once per version and shared by all instances of it.
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    user_tasks: Mapped[list] = mapped_column(JSON, default=list)
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deployed_by: Mapped[str | None] = mapped_column(String(100))


_RUNNING = "status = 'running'"
_RUNNING_NOT_OVERDUE = "status = 'running' AND overdue_at IS NULL"


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_instances_timer", "status", "next_timer_at"),
        Index("ix_instances_business_key", "process_key", "business_key"),
        Index("ix_instances_due", "due_at", postgresql_where=text(_RUNNING_NOT_OVERDUE),
              sqlite_where=text(_RUNNING_NOT_OVERDUE)),
        Index("ix_instances_open_due", "district", "due_at", postgresql_where=text(_RUNNING),
              sqlite_where=text(_RUNNING)),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[InstanceStatus] = mapped_column(_enum(InstanceStatus), default=InstanceStatus.RUNNING)
    # SpiffWorkflow state without the spec, zlib-compressed JSON.
    state: Mapped[bytes] = mapped_column(LargeBinary)
    # Optimistic concurrency: every write checks and bumps it (SQLAlchemy version_id_col).
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    next_timer_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    waiting: Mapped[list] = mapped_column(JSON, default=list)
    district: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(50))
    community: Mapped[str | None] = mapped_column(String(50))
    started_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # The whole-instance time limit (办理总时限) a diagram may set from a script, in working days; `due_at` moves
    # with pauses and extensions, `overdue_at` is when the deadline sweep found it exceeded (engine.deadlines).
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    time_limit_days: Mapped[int | None] = mapped_column(Integer)
    time_limit_max_days: Mapped[int | None] = mapped_column(Integer)
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Set while the case waits on the applicant (补正材料): time limits stand still.
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    definition: Mapped[ProcessDefinition] = relationship(lazy="select")

    __mapper_args__ = {"version_id_col": version}

    @classmethod
    def locked(cls, instance_id: int, *, skip_locked: bool = False, timer_due_by: datetime | None = None):
        """SELECT the instance under the row lock that serialises steps on it (PostgreSQL; SQLite serialises writers
        itself). FOR NO KEY UPDATE, not FOR UPDATE: other transactions writing rows that point at the instance
        (a claim's history entry) take a KEY SHARE lock for the foreign key, which FOR UPDATE would block — a
        claim holding its task row and waiting for the instance while the step waits for that task row was a
        deadlock. Two steps still exclude each other; the instance's key never changes. With `timer_due_by`, only
        an instance with a timer due by then: a sweep skips one another worker fired meanwhile without restoring
        it."""
        due = [cls.next_timer_at <= timer_due_by] if timer_due_by is not None else []
        return (select(cls).where(cls.id == instance_id, *due)
                .with_for_update(of=cls, key_share=True, skip_locked=skip_locked)
                .execution_options(populate_existing=True))


_OPEN = "status = 'open'"
_OPEN_NOT_REMINDED = "status = 'open' AND reminded_at IS NULL"


class HumanTask(Base):
    """The inbox projection of one ready user task; answers "what is on my desk" without loading state."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_tasks_assignee", "assignee", "status", "due_at"),
        Index("ix_tasks_group", "role", "status", "district", "street", "due_at"),
        Index("ix_tasks_agency", "agency", "status", "due_at"),
        Index("ix_tasks_overdue", "status", "due_at"),
        Index("ix_tasks_instance", "instance_id", "status"),
        # 已办: what a person completed (without it the list reads the whole table: 120 ms at 1,000,000 tasks).
        Index("ix_tasks_completed_by", "completed_by", "status"),
        # Deadline sweeps and the supervisor's reports read only open tasks: partial indexes stay small while the
        # table grows with history (engine.deadlines, web.api.reports).
        Index("ix_tasks_remind_due", "remind_at", postgresql_where=text(_OPEN_NOT_REMINDED),
              sqlite_where=text(_OPEN_NOT_REMINDED)),
        Index("ix_tasks_escalation_due", "next_escalation_at", postgresql_where=text(_OPEN),
              sqlite_where=text(_OPEN)),
        Index("ix_tasks_open_report", "district", "street", "role", "agency", "name", "due_at", "escalation_level",
              "paused_at", postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)),
        Index("ix_tasks_open_due", "district", "due_at", postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    process_key: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str | None] = mapped_column(String(100))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(50))
    # The member agency whose staff hold `role` for this task (区教委, 区残联 …); None for street/district work.
    agency: Mapped[str | None] = mapped_column(String(50))
    # 委派: who delegated the task to its assignee; it comes back to them when the delegate has done their part.
    delegated_by: Mapped[str | None] = mapped_column(String(100))
    form_key: Mapped[str | None] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(50))
    community: Mapped[str | None] = mapped_column(String(50))
    assignee: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus), default=TaskStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalate_to: Mapped[str | None] = mapped_column(String(50))
    outcome: Mapped[str | None] = mapped_column(String(20))
    data: Mapped[dict | None] = mapped_column(JSON)
    # Deadline state (engine.deadlines): when the sweep marked it overdue, when the next escalation is due (None at
    # the top of the chain), and the pause while the case waits on the applicant.
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_escalation_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    paused_working_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Whether other people sign this task before it can complete (会签, 加签; the domain sets it when it gives the
    # task signers, under the instance lock). False lets a completion skip asking for signers at all — the common
    # case on the hot path — and the completing UPDATE checks it is still False.
    has_signers: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


    def is_overdue(self, now: datetime) -> bool:
        """Open, past its due time, and not paused (a paused task's clock is stopped)."""
        return (self.status == TaskStatus.OPEN and self.paused_at is None and self.due_at is not None
                and self.due_at < now)

    @classmethod
    def overdue_condition(cls, now: datetime):
        """`is_overdue` as a SQL condition, for inbox and report queries."""
        return and_(cls.status == TaskStatus.OPEN, cls.paused_at.is_(None), cls.due_at < now)

class DeadlineEventKind(enum.StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    URGED = "urged"


class TaskDeadlineEvent(Base):
    """One reminder, overdue mark, escalation or urging of a task, recorded once.

    UNIQUE (task_id, kind, level) is what makes "once" hold when sweeps overlap or run on several workers: the
    second insert of the same event does nothing, and only the transaction that inserted it writes the audit entry
    and the outbox event. `level` is 0 for the reminder and the overdue mark, the escalation level (1, 2, …) for
    escalations, and the running number for urgings.
    """

    __tablename__ = "task_deadline_events"
    __table_args__ = (
        UniqueConstraint("task_id", "kind", "level"),
        Index("ix_deadline_events_scope", "district", "at", "kind"),
        Index("ix_deadline_events_instance", "instance_id", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    kind: Mapped[DeadlineEventKind] = mapped_column(_enum(DeadlineEventKind))
    level: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str | None] = mapped_column(String(100))
    # Who is told: the escalation role (in the task's jurisdiction), or the task's assignee or group.
    target_role: Mapped[str | None] = mapped_column(String(50))
    target_user: Mapped[str | None] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(50))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    message: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what, when, with which opinion — the case history."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    task_id: Mapped[int | None] = mapped_column(IdType)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(AuditActionType())  # a declared action (engine.audit), never free text
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(200))
    opinion: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)


class OutboxStatus(StatusEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"

    @classmethod
    def transitions(cls):
        return {cls.PENDING: {cls.DELIVERED, cls.DEAD, cls.PENDING}, cls.DEAD: {cls.PENDING}}


class OutboxEvent(Base):
    """A domain event written in the step's transaction; delivered after commit (DESIGN decision 6)."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[int | None] = mapped_column(IdType)
    business_key: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class IncidentKind(enum.StrEnum):
    """Which background work failed: what a retry runs again."""

    TIMER = "timer"
    MESSAGE = "message"


class Incident(Base):
    """A background step of an instance that failed (Camunda's incident): open until an admin retries it.

    While one is open the instance has status `incident` and the sweeps skip it. `error` never holds an ID number
    (engine.incidents masks them); `attempts` counts the failed runs, the first included.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_open", "resolved_at", "created_at"),
        Index("ix_incidents_instance", "instance_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text)
    kind: Mapped[IncidentKind] = mapped_column(_enum(IncidentKind))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=1)

    instance: Mapped[ProcessInstance] = relationship(lazy="select")


class CalendarOverride(Base):
    """Admin-maintained holidays and make-up workdays for years the calendar library does not cover."""

    __tablename__ = "calendar_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))


class CalendarYear(Base):
    """A year whose official holiday arrangement an admin imported (its days are rows of calendar_overrides).

    The official table of the calendar library covers its own years; a row here makes the calendar treat `year` as
    covered too, so deadlines in it no longer come with a warning."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    days: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    imported_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(200))


class ClockState(Base):
    """The simulated clock's instant, shared by every process of one deployment."""

    __tablename__ = "clock_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    now: Mapped[datetime] = mapped_column(UtcDateTime())


class DiagramDraft(Base):
    """A process designer's working copy of a diagram, saved from the modeler before (or instead of) a deploy.

    One draft per process key, shared by the designers; `revision` guards against overwriting a colleague's save.
    """

    __tablename__ = "diagram_drafts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    based_on_version: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(100))

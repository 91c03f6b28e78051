"""What a history (audit) entry may say happened: enums, not free strings.

The engine declares its own actions here; the domain declares its own in its enum and registers it with
`register_actions` at import, so `engine/` still knows nothing of social assistance. The `action` column stores
the value and refuses on write anything no registered enum declares — a typo in an action name fails the step
instead of writing a history entry no page can label. Values read back are the enum members (StrEnum: they compare
and serialise as their strings).
"""
from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator


class AuditAction(StrEnum):
    PROCESS_STARTED = "process_started"
    PROCESS_COMPLETED = "process_completed"
    PROCESS_OVERDUE = "process_overdue"
    TASK_COMPLETED = "task_completed"
    TASK_CLAIMED = "task_claimed"
    TASK_UNCLAIMED = "task_unclaimed"
    TASK_RETURNED = "task_returned"
    TASK_DATA_UPDATED = "task_data_updated"
    TASK_REMINDED = "task_reminded"
    TASK_OVERDUE = "task_overdue"
    TASK_ESCALATED = "task_escalated"
    TASK_URGED = "task_urged"
    COMMENT = "comment"
    MESSAGE_RECEIVED = "message_received"
    TIMER_FIRED = "timer_fired"
    DEADLINES_PAUSED = "deadlines_paused"
    DEADLINES_RESUMED = "deadlines_resumed"
    TIME_LIMIT_SET = "time_limit_set"
    TIME_LIMIT_EXTENDED = "time_limit_extended"
    MIGRATED = "migrated"
    INCIDENT_OPENED = "incident_opened"
    INCIDENT_RESOLVED = "incident_resolved"


_KNOWN: dict[str, StrEnum] = {}


def register_actions(actions: type[StrEnum]) -> None:
    """Declare another set of actions (the domain's); a value declared twice must mean the same member."""
    for member in actions:
        existing = _KNOWN.get(member.value)
        if existing is not None and existing is not member:
            raise ValueError(f"audit action {member.value!r} is declared by {type(existing).__name__} already")
        _KNOWN[member.value] = member


def action_of(value: str) -> StrEnum:
    """The declared member for `value`; ValueError for anything undeclared."""
    try:
        return _KNOWN[str(value)]
    except KeyError:
        raise ValueError(f"undeclared audit action {value!r}") from None


def known_actions() -> list[StrEnum]:
    return list(_KNOWN.values())


class AuditActionType(TypeDecorator):
    """A String column holding a declared audit action (checked on every write, ORM or bulk insert)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return action_of(value).value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        # An action written by an older release and no longer declared still reads back (as its string).
        return _KNOWN.get(value, value)


register_actions(AuditAction)

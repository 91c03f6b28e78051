"""代理 (substitutes): while someone is away, a colleague named for a period works the tasks assigned to them.

The absent user keeps their tasks — both see them; the substitute completes them and the history says
"代 X 办理" (``on_behalf_of`` in the completion's history entry). Only tasks *assigned* to the absent user move:
their group's unclaimed tasks are the substitute's anyway (same role, same jurisdiction, see
``workflows.tasks.substitution`` for the rules of naming one). No chains: a substitute's own substitute does not
inherit the absent user's tasks.

This module holds the table and the SQL conditions ``workflows.access`` and the inbox use; it imports nothing of
``access`` (which imports it).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, and_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import clock
from engine.models import Base, IdType, UtcDateTime


class Substitute(Base):
    """`username` is away from `starts_at` to `ends_at` (exclusive); `substitute` stands in. Rows stay for the
    record: ending one early sets `cancelled_at`."""

    __tablename__ = "substitutes"
    __table_args__ = (
        Index("ix_substitutes_substitute", "substitute", "starts_at"),
        Index("ix_substitutes_username", "username", "starts_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    substitute: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def in_force(now: datetime):
    """Arrangements running at `now`."""
    return and_(Substitute.cancelled_at.is_(None), Substitute.starts_at <= now, Substitute.ends_at > now)


def absentees_query(username: str, now: datetime | None = None):
    """A subquery of the usernames `username` stands in for right now (for ``assignee IN (…)``)."""
    return select(Substitute.username).where(Substitute.substitute == username, in_force(now or clock.now()))


def stands_in_for(session: Session | None, username: str, absentee: str | None, now: datetime | None = None) -> bool:
    if session is None or not absentee or absentee == username:
        return False
    return session.scalar(select(Substitute.id).where(
        Substitute.substitute == username, Substitute.username == absentee, in_force(now or clock.now())).limit(1)
    ) is not None

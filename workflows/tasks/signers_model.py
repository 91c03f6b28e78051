"""The signers of a task: 会签 / 或签 / 依次签批 named by the diagram, and 加签 before or after the holder.

One row per signer and task and phase. A row is *asked* (``asked_at`` set) when it is the signer's turn: at once for
会签/或签 and 加签-before, one after the other for 依次, and for 加签-after when the holder has given their answer.
Only an asked, pending row is on the signer's desk. The rules live in ``workflows.tasks.signers``.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from engine.audit import register_actions
from engine.models import Base, IdType, StatusEnum, UtcDateTime, _enum


class SignPhase(StrEnum):
    BEFORE = "before"  # 加签 (前加签): they sign before the holder may complete
    AFTER = "after"  # 加签 (后加签): they sign the holder's answer before the step is done
    COUNTERSIGN = "countersign"  # 会签 / 或签 / 依次, named by the diagram: their decision completes the step


class SignMode(StrEnum):
    ALL = "all"  # 会签: every signer agrees; any rejection decides at once
    ANY = "any"  # 或签: the first decision decides
    SEQUENCE = "sequence"  # 依次: in order, every signer agrees


class SignerStatus(StatusEnum):
    PENDING = "pending"
    AGREED = "agreed"
    REJECTED = "rejected"
    REMOVED = "removed"  # 减签
    SKIPPED = "skipped"  # the rule was decided without them (或签 decided, a rejection ended the round)

    @classmethod
    def transitions(cls):
        done = {cls.AGREED, cls.REJECTED, cls.REMOVED, cls.SKIPPED}
        # A signer whose earlier round ended may be asked again by a new 加签 (same row: UNIQUE per phase).
        return {cls.PENDING: done, **{status: {cls.PENDING} for status in done}}


class SignerAction(StrEnum):
    SIGNERS_ADDED = "task_signers_added"
    SIGNER_REMOVED = "task_signer_removed"
    TASK_SIGNED = "task_signed"
    SIGN_ANSWER_RECORDED = "task_sign_answer_recorded"
    SIGN_RETURNED = "task_sign_returned"


register_actions(SignerAction)


class TaskSigner(Base):
    __tablename__ = "task_signers"
    __table_args__ = (
        UniqueConstraint("task_id", "username", "phase", name="uq_task_signers_task_id"),
        Index("ix_task_signers_username", "username", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"))
    username: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    phase: Mapped[SignPhase] = mapped_column(_enum(SignPhase))
    mode: Mapped[SignMode] = mapped_column(_enum(SignMode))
    status: Mapped[SignerStatus] = mapped_column(_enum(SignerStatus), default=SignerStatus.PENDING)
    opinion: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    added_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


def awaiting_ids(username: str):
    """The ids of the tasks waiting for `username`'s signature now (their row is asked and pending);
    the inbox adds `status = open`. A list of ids, not a correlated EXISTS, so the inbox's OR can use an index."""
    return select(TaskSigner.task_id).where(TaskSigner.username == username,
                                            TaskSigner.status == SignerStatus.PENDING,
                                            TaskSigner.asked_at.is_not(None))


def signed_task_ids(username: str):
    """The ids of the tasks `username` is or was a signer of (they may see them)."""
    return select(TaskSigner.task_id).where(TaskSigner.username == username)

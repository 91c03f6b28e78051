"""Tables of the register and the payments: recipients, their audited changes, payment runs and lines, reviews.

Money is NUMERIC(12,2) (``Decimal`` in Python), months are "YYYY-MM" strings (they sort and compare as text).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, IdType, StatusEnum, UtcDateTime, _enum

Money = Numeric(12, 2)


class RecipientStatus(StatusEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    # Gradual exit (救助渐退): still paid until `end_month`, then stopped.
    EXITING = "exiting"
    STOPPED = "stopped"

    @classmethod
    def transitions(cls):
        return {
            cls.ACTIVE: {cls.SUSPENDED, cls.EXITING, cls.STOPPED},
            cls.SUSPENDED: {cls.ACTIVE, cls.STOPPED},
            cls.EXITING: {cls.ACTIVE, cls.STOPPED},
        }


class Recipient(Base):
    """One household on the register of one program; created when its case is approved (one per case)."""

    __tablename__ = "recipients"
    __table_args__ = (
        UniqueConstraint("case_id"),
        Index("ix_recipients_scope", "program", "district", "street", "status"),
        Index("ix_recipients_review_due", "status", "next_review_due"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    program: Mapped[str] = mapped_column(String(50))
    # The process key of the rule set the case ran under (dibao = 2012 rules, dibao_2021 = 2021 rules).
    rule_set: Mapped[str] = mapped_column(String(50))
    district: Mapped[str] = mapped_column(String(50))
    street: Mapped[str] = mapped_column(String(50))
    community: Mapped[str] = mapped_column(String(50))
    area: Mapped[str] = mapped_column(String(10), default="urban")  # urban | rural: which standard applies
    head_name: Mapped[str] = mapped_column(String(100))
    # Full ID numbers stay in the database (the bank file needs them masked, never in logs or pages).
    head_id_number: Mapped[str] = mapped_column(String(18))
    household: Mapped[dict] = mapped_column(JSON)  # {"members": [...]} as approved or last reviewed
    household_size: Mapped[int] = mapped_column(Integer)
    monthly_income: Mapped[Decimal] = mapped_column(Money)  # the assessed household income the amount uses
    # stable | sanwu | serious | unstable_working: decides the review interval (workflows.register.review_schedule).
    category: Mapped[str] = mapped_column(String(30))
    monthly_amount: Mapped[Decimal] = mapped_column(Money)
    breakdown: Mapped[dict] = mapped_column(JSON)  # {"standard", "base", "topups": [...], "cuts": [...]}, as strings
    status: Mapped[RecipientStatus] = mapped_column(_enum(RecipientStatus), default=RecipientStatus.ACTIVE)
    since_month: Mapped[str] = mapped_column(String(7))
    next_review_due: Mapped[date | None] = mapped_column(Date)
    # The first month NOT paid: set by a stop (its effective month) or a gradual exit (the month after the last
    # exit payment). A run for month M pays since_month <= M < end_month, never while suspended.
    end_month: Mapped[str | None] = mapped_column(String(7))
    # member key → consecutive refusals of public-welfare labour (the 3rd cuts that member's share).
    labour_refusals: Mapped[dict] = mapped_column(JSON, default=dict)
    bank_name: Mapped[str | None] = mapped_column(String(100))
    account_number: Mapped[str | None] = mapped_column(String(30))
    stop_reason: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RecipientChange(Base):
    """An audited change of a recipient: approval, review outcome, standard change, event, exit, stop."""

    __tablename__ = "recipient_changes"
    # The amount in force for month M is the newest change with effective_month <= M and a new_amount.
    __table_args__ = (Index("ix_recipient_changes_recipient", "recipient_id", "effective_month", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"))
    kind: Mapped[str] = mapped_column(String(30))  # approved | review | standard | event | exit | stop | ...
    effective_month: Mapped[str] = mapped_column(String(7))
    old_amount: Mapped[Decimal | None] = mapped_column(Money)
    new_amount: Mapped[Decimal | None] = mapped_column(Money)
    old_status: Mapped[str | None] = mapped_column(String(20))
    new_status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(2000))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    details: Mapped[dict | None] = mapped_column(JSON)


class RunStatus(StatusEnum):
    # Lines are being written; a run killed here resumes on the next create (no line twice, none missing).
    COMPUTING = "computing"
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    EXPORTED = "exported"
    CLOSED = "closed"

    @classmethod
    def transitions(cls):
        return {
            cls.COMPUTING: {cls.DRAFT},
            cls.DRAFT: {cls.CONFIRMED},
            cls.CONFIRMED: {cls.EXPORTED},
            cls.EXPORTED: {cls.CLOSED},
        }


class PaymentRun(Base):
    """The monthly payment run (月度发放) of one program in one district."""

    __tablename__ = "payment_runs"
    __table_args__ = (UniqueConstraint("program", "district", "month"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    program: Mapped[str] = mapped_column(String(50))
    district: Mapped[str] = mapped_column(String(50))
    month: Mapped[str] = mapped_column(String(7))
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus), default=RunStatus.COMPUTING)
    due_date: Mapped[date] = mapped_column(Date)  # before the 10th of the month
    households: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))
    by_street: Mapped[list] = mapped_column(JSON, default=list)
    by_funding: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Reminder / overdue / escalation marks of the run's due date (the deadline sweep handles runs like tasks).
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PaymentStatus(StatusEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    # A failed line handed on: carried into a later run (a new line there) or stopped with a reason.
    CARRIED = "carried"
    STOPPED = "stopped"

    @classmethod
    def transitions(cls):
        return {
            cls.PENDING: {cls.PAID, cls.FAILED},
            cls.FAILED: {cls.CARRIED, cls.STOPPED},
        }


class Payment(Base):
    """One line of a run: one recipient, one month it pays for (a carried failure pays an earlier month)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("run_id", "recipient_id", "for_month"),
        Index("ix_payments_recipient", "recipient_id", "for_month"),
        Index("ix_payments_run_status", "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payment_runs.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"))
    for_month: Mapped[str] = mapped_column(String(7))
    street: Mapped[str] = mapped_column(String(50))
    amount: Mapped[Decimal] = mapped_column(Money)
    district_share: Mapped[Decimal] = mapped_column(Money)
    township_share: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus), default=PaymentStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(500))
    carried_from_id: Mapped[int | None] = mapped_column(IdType)
    bank_name: Mapped[str | None] = mapped_column(String(100))
    account_number: Mapped[str | None] = mapped_column(String(30))
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReviewStatus(StatusEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"

    @classmethod
    def transitions(cls):
        return {cls.OPEN: {cls.DONE, cls.CANCELLED}}


class Review(Base):
    """A periodic or event-triggered review (复核) of a recipient: one process instance of `dibao_review`."""

    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_recipient", "recipient_id", "status"),
        Index("ix_reviews_status_due", "status", "due_date"),
        # One open review per recipient, also where no row lock serialises the web and the worker (SQLite).
        Index("uq_reviews_one_open", "recipient_id", unique=True, sqlite_where=text("status = 'open'"),
              postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"))
    process_instance_id: Mapped[int | None] = mapped_column(IdType)
    trigger: Mapped[str] = mapped_column(String(30))  # periodic | death | income_change | labour_refusal
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus), default=ReviewStatus.OPEN)
    outcome: Mapped[str | None] = mapped_column(String(20))  # continue | raise | lower | stop | exit
    reason: Mapped[str | None] = mapped_column(String(2000))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

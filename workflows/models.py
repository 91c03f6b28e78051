"""Domain tables: people and places, cases, local standards, the spot-check tally."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, IdType, StatusEnum, UtcDateTime, _enum


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(50))
    agency: Mapped[str | None] = mapped_column(String(50))
    district: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(50))
    community: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Jurisdiction(Base):
    """District → street → community; names are unique within their parent."""

    __tablename__ = "jurisdictions"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    # urban | rural (城市 / 农村 standards differ); None inherits from the parent, the top defaults to urban.
    area: Mapped[str | None] = mapped_column(String(10))


class CaseStatus(StatusEnum):
    IN_PROGRESS = "in_progress"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"

    @classmethod
    def transitions(cls):
        return {
            # CLOSED from IN_PROGRESS: terminated (终止) by an admin or the district approver.
            cls.IN_PROGRESS: {cls.APPROVED, cls.REFUSED, cls.WITHDRAWN, cls.CLOSED},
            cls.APPROVED: {cls.CLOSED},
        }


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_scope", "district", "street", "community", "status"),
        Index("ix_cases_instance", "process_instance_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    program: Mapped[str] = mapped_column(String(50))
    process_instance_id: Mapped[int | None] = mapped_column(IdType)
    district: Mapped[str] = mapped_column(String(50))
    street: Mapped[str] = mapped_column(String(50))
    community: Mapped[str] = mapped_column(String(50))
    applicant_name: Mapped[str] = mapped_column(String(100))
    # Full ID numbers stay in this column and the household JSON; every output masks them.
    applicant_id_number: Mapped[str] = mapped_column(String(18))
    applicant_phone: Mapped[str | None] = mapped_column(String(30))
    household: Mapped[dict] = mapped_column(JSON)
    household_size: Mapped[int] = mapped_column(Integer)
    # Program-specific application fields (临时救助 kind and amount, 助学 school and tuition …), validated by the
    # program's schema in workflows.program_details.
    details: Mapped[dict | None] = mapped_column(JSON)
    declared_monthly_income: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.IN_PROGRESS)
    stage: Mapped[str | None] = mapped_column(String(200))
    proposed_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    relatives_filed: Mapped[bool] = mapped_column(Boolean, default=False)
    objected: Mapped[bool] = mapped_column(Boolean, default=False)
    spot_checked: Mapped[bool | None] = mapped_column(Boolean)
    refusal_reason: Mapped[str | None] = mapped_column(String(2000))
    notice_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LocalStandard(Base):
    """The monthly standard (yuan per person) a district applies to a program in urban or rural areas from a month
    on (`effective_from` is the first day of that month), with the district's share of its funding."""

    __tablename__ = "local_standards"
    __table_args__ = (UniqueConstraint("district", "program", "area", "effective_from"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    district: Mapped[str] = mapped_column(String(50))
    program: Mapped[str] = mapped_column(String(50))
    area: Mapped[str] = mapped_column(String(10), default="urban")  # urban | rural
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    effective_from: Mapped[date] = mapped_column(Date)
    topup_rates: Mapped[dict | None] = mapped_column(JSON)
    # District share of the payments (the rest is the township's); Chaoyang 2004: 50 / 50.
    district_share: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.5"))
    created_by: Mapped[str | None] = mapped_column(String(100))


class SpotCheckTally(Base):
    """Decided and visited cases per district, program and calendar month (低保 and 特困 each keep their own 30%);
    locked while a selection is made."""

    __tablename__ = "spot_check_tallies"
    __table_args__ = (UniqueConstraint("district", "program", "month"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    district: Mapped[str] = mapped_column(String(50))
    program: Mapped[str] = mapped_column(String(50), default="dibao", server_default="dibao")
    month: Mapped[str] = mapped_column(String(7))
    decided: Mapped[int] = mapped_column(Integer, default=0)
    visited: Mapped[int] = mapped_column(Integer, default=0)


# -- staff UI: attachments, task drafts, case copies (抄送) ------------------------------------------------------


class Attachment(Base):
    """A file attached to a case; the bytes live in the instance folder under `stored_name`, never in the row."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[int | None] = mapped_column(IdType)
    element_name: Mapped[str | None] = mapped_column(String(200))
    # A random name (uuid hex): what the uploader called the file never reaches the file system.
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TaskDraft(Base):
    """Unsubmitted form values of an open task (保存草稿); one per task, whoever holds the task sees it."""

    __tablename__ = "task_drafts"

    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    saved_by: Mapped[str] = mapped_column(String(100))
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseCopy(Base):
    """A case copied to someone for information (抄送): explicitly, or when a task is handed over or escalated."""

    __tablename__ = "case_copies"
    __table_args__ = (
        Index("ix_case_copies_recipient", "recipient", "created_at"),
        Index("ix_case_copies_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[int | None] = mapped_column(IdType)
    element_name: Mapped[str | None] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str | None] = mapped_column(String(100))
    # copied (抄送), transferred (转办), delegated (委派), escalated (超期督办)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# -- sign-in: server-side sessions and login throttling ----------------------------------------------------------


class UserSession(Base):
    """A page session (cookie) or an API token; the client holds a random id, the row only its SHA-256."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # page | api
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginAttempt(Base):
    """Failed-login counters: one row per account and source address, one per account (`key` tells which)."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    strikes: Mapped[int] = mapped_column(Integer, default=0)  # how often this key was blocked: the delay doubles
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

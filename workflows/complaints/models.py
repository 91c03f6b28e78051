"""Complaints (投诉举报) and the receivables fraud leaves (追缴款: the amount obtained plus a fine of 1–3 ×).

A complaint is about one household, named by an ID number (or a case number); it is routed to the street of that
household as found on the register or in its case. The full ID number stays in this table for matching (the spot
check of the household's next decision, workflows.complaints.rules) and is never output unmasked.
"""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, IdType, StatusEnum, UtcDateTime, _enum

Money = Numeric(12, 2)


class ComplaintStatus(StatusEnum):
    RECEIVED = "received"  # lodged; waiting for the street to take it up (核实受理)
    INVESTIGATING = "investigating"  # taken up: home visit, opinion, the district's confirmation
    CLOSED = "closed"  # decided (outcome set)

    @classmethod
    def transitions(cls):
        return {cls.RECEIVED: {cls.INVESTIGATING}, cls.INVESTIGATING: {cls.CLOSED}}


class ComplaintChannel(enum.StrEnum):
    PUBLIC = "public"  # the public page or the API without login
    STAFF = "staff"  # recorded by a street or community worker (hotline, visit, letter)


class ComplaintOutcome(enum.StrEnum):
    UNFOUNDED = "unfounded"  # 情况不实
    CORRECTED = "corrected"  # 情况属实，已纠正: the amount changed or the aid stopped
    FRAUD = "fraud"  # 骗取救助: the amount obtained recovered with a fine, the aid stopped and revoked


# A complaint that is still open, or was found true, makes the household's next decision a mandatory visit.
FOUNDED = (ComplaintOutcome.CORRECTED, ComplaintOutcome.FRAUD)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("reference"),
        Index("ix_complaints_household", "household_id_number", "created_at"),
        Index("ix_complaints_scope", "district", "street", "status"),
        Index("ix_complaints_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    # What the reporter is given to quote when asking about the complaint: not the row id (not guessable).
    reference: Mapped[str] = mapped_column(String(20))
    # Unmatched complaints (no household found for the number given) keep what was given, which may be nothing.
    household_id_number: Mapped[str | None] = mapped_column(String(18))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"))
    # None for an unmatched complaint (待分派): no household, so no street to route it to; district staff see it.
    district: Mapped[str | None] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(50))
    community: Mapped[str | None] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(String(2000))
    reporter: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[ComplaintChannel] = mapped_column(_enum(ComplaintChannel))
    received_by: Mapped[str | None] = mapped_column(String(100))  # the staff member who recorded it
    status: Mapped[ComplaintStatus] = mapped_column(_enum(ComplaintStatus), default=ComplaintStatus.RECEIVED)
    outcome: Mapped[ComplaintOutcome | None] = mapped_column(_enum(ComplaintOutcome))
    finding: Mapped[str | None] = mapped_column(String(2000))
    process_instance_id: Mapped[int | None] = mapped_column(IdType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReceivableStatus(StatusEnum):
    OPEN = "open"
    PAID = "paid"
    WRITTEN_OFF = "written_off"  # 核销: cannot be recovered (death, no means), decided by the district

    @classmethod
    def transitions(cls):
        return {cls.OPEN: {cls.PAID, cls.WRITTEN_OFF}}


class Receivable(Base):
    """What a household owes after fraud: the aid it obtained and a fine of 1–3 × that amount."""

    __tablename__ = "receivables"
    __table_args__ = (UniqueConstraint("complaint_id"), Index("ix_receivables_status", "status", "created_at"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("recipients.id"))
    obtained_amount: Mapped[Decimal] = mapped_column(Money)
    fine_multiple: Mapped[Decimal] = mapped_column(Numeric(4, 2))  # 1–3, e.g. 1.5
    fine_amount: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[ReceivableStatus] = mapped_column(_enum(ReceivableStatus), default=ReceivableStatus.OPEN)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ComplaintIntakeCount(Base):
    """Public submissions per source address in the current window (the address only as a hash): throttling that
    holds across processes, and counts refused submissions too, so the form cannot be used to probe ID numbers."""

    __tablename__ = "complaint_intake_counts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)

"""Aid records: one row per grant (a program's decision, a one-off temporary-aid payment, a specialised project's
aid), with the ID numbers of the household members it reached in `aid_record_members`, so duplicate and missed
aid can be found across programs and agencies by member."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, IdType, StatusEnum, UtcDateTime, _enum


class AidStatus(StatusEnum):
    ACTIVE = "active"  # in force (a monthly support) or granted (a one-off)
    ENDED = "ended"  # the support stopped, or the one-off was paid and its period passed
    REVOKED = "revoked"  # withdrawn by a complaint's finding (fraud, error)

    @classmethod
    def transitions(cls):
        return {cls.ACTIVE: {cls.ENDED, cls.REVOKED}, cls.ENDED: {cls.REVOKED}}


class AidRecord(Base):
    __tablename__ = "aid_records"
    __table_args__ = (
        Index("ix_aid_records_case", "case_id"),
        Index("ix_aid_records_kind_period", "kind", "period_from"),
        Index("ix_aid_records_agency_granted", "agency", "granted_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    program: Mapped[str] = mapped_column(String(50))
    # What kind of aid (the duplicate check compares kinds): usually the program key; a program may grant
    # another kind (e.g. 助医 "medical").
    kind: Mapped[str] = mapped_column(String(50))
    agency: Mapped[str] = mapped_column(String(50))  # the granting agency
    district: Mapped[str] = mapped_column(String(50))
    street: Mapped[str | None] = mapped_column(String(50))
    community: Mapped[str | None] = mapped_column(String(50))
    # Money in yuan (None for aid in kind or a service: legal aid, counselling); monthly or one-off.
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    monthly: Mapped[bool] = mapped_column(default=False)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date | None] = mapped_column(Date)  # None: ongoing
    status: Mapped[AidStatus] = mapped_column(_enum(AidStatus), default=AidStatus.ACTIVE)
    description: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict | None] = mapped_column(JSON)
    granted_by: Mapped[str | None] = mapped_column(String(100))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AidRecordMember(Base):
    """A household member an aid reached, by ID number (full numbers stay here; every output masks them)."""

    __tablename__ = "aid_record_members"
    __table_args__ = (Index("ix_aid_record_members_id_number", "id_number", "aid_id"),)

    aid_id: Mapped[int] = mapped_column(ForeignKey("aid_records.id", ondelete="CASCADE"), primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), primary_key=True)

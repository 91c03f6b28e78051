"""Writing the aid register: `record_aid` is the one way an aid enters it (from a BPMN script at a program's
decision, or from the register when a recipient starts)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case
from .models import AidRecord, AidRecordMember, AidStatus


def household_id_numbers(case: Case) -> list[str]:
    """The applicant's and every member's ID number, once each."""
    numbers = [case.applicant_id_number.upper()]
    for member in (case.household or {}).get("members", []):
        number = str(member.get("id_number") or "").upper()
        if number and number not in numbers:
            numbers.append(number)
    return numbers


def record_aid(session: Session, case: Case, *, program: str, agency: str, now: datetime, period_from: date,
               amount: Decimal | None = None, monthly: bool = False, period_to: date | None = None,
               kind: str | None = None, description: str | None = None, granted_by: str | None = None,
               detail: dict | None = None) -> AidRecord:
    """Record one aid granted to the case's household; idempotent per (case, program, kind, period_from)."""
    kind = kind or program
    existing = session.scalars(
        select(AidRecord).where(AidRecord.case_id == case.id, AidRecord.program == program, AidRecord.kind == kind,
                                AidRecord.period_from == period_from)
    ).first()
    if existing is not None:
        return existing
    record = AidRecord(case_id=case.id, program=program, kind=kind, agency=agency, district=case.district,
                       street=case.street, community=case.community,
                       amount=None if amount is None else Decimal(str(amount)).quantize(Decimal("0.01")),
                       monthly=monthly, period_from=period_from, period_to=period_to, description=description,
                       detail=detail, granted_by=granted_by, granted_at=now)
    session.add(record)
    session.flush()
    for number in household_id_numbers(case):
        session.add(AidRecordMember(aid_id=record.id, id_number=number))
    return record


def end_aid(session: Session, *, case_id: int, program: str, period_to: date) -> list[AidRecord]:
    """Mark the case's active monthly aid of `program` ENDED with `period_to` (its last day in force), e.g. when
    the register stops a recipient. Records already ended or revoked keep their state."""
    rows = list(session.scalars(
        select(AidRecord).where(AidRecord.case_id == case_id, AidRecord.program == program,
                                AidRecord.monthly.is_(True), AidRecord.status == AidStatus.ACTIVE)))
    for record in rows:
        record.status = record.status.to(AidStatus.ENDED)
        record.period_to = period_to
    return rows

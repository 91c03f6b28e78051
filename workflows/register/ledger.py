"""The one way a recipient changes: every change of amount or status writes an audited row (who, when, why, old
and new) in the same transaction as the change itself."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from ..aid.records import end_aid
from .models import Recipient, RecipientChange, RecipientStatus
from .months import first_day


def record_change(session: Session, recipient: Recipient, *, kind: str, actor: str, reason: str, now: datetime,
                  effective_month: str, new_amount: Decimal | None = None, breakdown: dict | None = None,
                  new_status: RecipientStatus | None = None, details: dict | None = None) -> RecipientChange:
    """Apply a new amount and/or status to `recipient` and record it. A status change must be a declared
    transition (RecipientStatus.to raises ValueError otherwise). `recipient` must have an id (flushed); the caller
    commits."""
    old_amount, old_status = recipient.monthly_amount, recipient.status
    if new_status is not None and new_status != old_status:
        recipient.status = old_status.to(new_status)
    if new_amount is not None:
        recipient.monthly_amount = new_amount
        if breakdown is not None:
            recipient.breakdown = breakdown
    recipient.updated_at = now
    change = RecipientChange(
        recipient_id=recipient.id, kind=kind, effective_month=effective_month,
        old_amount=old_amount if new_amount is not None else None, new_amount=new_amount,
        old_status=old_status.value if new_status is not None else None,
        new_status=new_status.value if new_status is not None else None,
        reason=reason, actor=actor, at=now, details=details,
    )
    session.add(change)
    if new_status == RecipientStatus.STOPPED and old_status != RecipientStatus.STOPPED:
        # The aid register's record ends with the last month paid (every stop passes here: review, exit end).
        end_aid(session, case_id=recipient.case_id, program=recipient.program,
                period_to=first_day(effective_month) - timedelta(days=1))
    return change

"""What the `complaint` process (bpmn/complaint.bpmn) does to the complaint, the register and the aid register:
the functions its scripts call, inside the step (the step's session and transaction: a failing step writes
nothing).

- taken up (核实受理): received → investigating;
- unfounded: closed with the finding;
- corrected: the district's change goes through the register's ledger (workflows.register.ledger.record_change):
  a new monthly amount, or a stop, from the month after the decision (as a review's change);
- fraud: a receivable of the amount obtained plus a fine of 1–3 × that amount, the recipient stopped from the
  month after the decision, and every aid record of the case revoked (AidStatus.REVOKED).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.runtime import current_step

from ..aid.models import AidRecord, AidStatus
from ..listener import keyed_id
from ..money import money
from ..register.amounts import money_text, with_adjustment
from ..register.ledger import record_change
from ..register.models import Recipient, RecipientStatus
from ..register.months import month_of, next_month
from .intake import KEY_PREFIX
from .models import Complaint, ComplaintOutcome, ComplaintStatus, Receivable

CENT = Decimal("0.01")
# The fine: 1 to 3 times the amount obtained, any multiple in between (e.g. 1.5).
FINE_MIN, FINE_MAX = Decimal(1), Decimal(3)


def complaint_id_of(business_key: str | None) -> int | None:
    return keyed_id(KEY_PREFIX, business_key)


def _complaint(complaint_id) -> Complaint:
    ctx = current_step()
    complaint = ctx.session.get(Complaint, int(complaint_id))
    # Only the complaint's own instance may change it.
    if complaint is None or complaint_id_of(ctx.instance.business_key) != complaint.id \
            or complaint.process_instance_id not in (None, ctx.instance.id):
        raise ValueError(f"投诉举报 {complaint_id} 不存在")
    return complaint


def recipient_of(recipient_id) -> Recipient | None:
    """The register entry a complaint is about, read in the running step (None when there is none); the forms'
    step checks use it too."""
    return current_step().session.get(Recipient, int(recipient_id)) if recipient_id else None


def _recipient(complaint: Complaint) -> Recipient | None:
    return recipient_of(complaint.recipient_id)


def _close(complaint: Complaint, outcome: ComplaintOutcome, finding) -> str:
    complaint.status = complaint.status.to(ComplaintStatus.CLOSED)
    complaint.outcome = outcome
    complaint.finding = (str(finding).strip()[:2000] or None) if finding else None
    complaint.closed_at = current_step().now
    return complaint.status.value


def _effective_month() -> str:
    """Changes apply from the month after the decision: that month's payment may already be computed or paid."""
    return next_month(month_of(current_step().now.astimezone(SHANGHAI).date()))


def _stop(recipient: Recipient, complaint: Complaint, reason: str, details: dict) -> None:
    if recipient.status == RecipientStatus.STOPPED:
        return
    ctx = current_step()
    effective = _effective_month()
    record_change(ctx.session, recipient, kind="complaint", actor=ctx.actor or "system", reason=reason, now=ctx.now,
                  effective_month=effective, new_status=RecipientStatus.STOPPED, details=details)
    recipient.end_month = effective
    recipient.stop_reason = reason
    recipient.next_review_due = None


# -- functions the diagram's scripts call ------------------------------------------------------------------------

def complaint_taken_up(complaint_id) -> str:
    """核实受理: the street has taken the complaint up; the home visit follows."""
    complaint = _complaint(complaint_id)
    if complaint.status == ComplaintStatus.RECEIVED:
        complaint.status = complaint.status.to(ComplaintStatus.INVESTIGATING)
    return complaint.status.value


def complaint_unfounded(complaint_id, finding=None) -> str:
    return _close(_complaint(complaint_id), ComplaintOutcome.UNFOUNDED, finding)


def complaint_correct(complaint_id, action, new_monthly_amount=None, reason=None, finding=None) -> dict:
    """The district's correction: `action` change (a new monthly amount) or stop; `finding` is the home visit's."""
    complaint = _complaint(complaint_id)
    recipient = _recipient(complaint)
    if recipient is None:
        raise ValueError("被举报家庭不在保障台账上，无法调整待遇")
    reason_text = str(reason or "投诉举报查实，纠正待遇")[:2000]
    details = {"complaint_id": complaint.id, "reference": complaint.reference, "outcome": "corrected",
               "action": action}
    ctx = current_step()
    if action == "stop":
        _stop(recipient, complaint, reason_text, details)
    elif action == "change":
        amount = money(new_monthly_amount)
        if amount <= 0:
            raise ValueError("调整后的月保障金必须大于 0；应停发的请选择停发")
        breakdown = with_adjustment(recipient.breakdown, amount) if (recipient.breakdown or {}).get("total") \
            else None
        record_change(ctx.session, recipient, kind="complaint", actor=ctx.actor or "system", reason=reason_text,
                      now=ctx.now, effective_month=_effective_month(), new_amount=amount, breakdown=breakdown,
                      details=details)
    else:
        raise ValueError(f"未知的纠正方式：{action!r}")
    _close(complaint, ComplaintOutcome.CORRECTED, finding or reason_text)
    return {"action": action, "effective_month": _effective_month(), "monthly_amount": money_text(
        recipient.monthly_amount), "recipient_status": recipient.status.value}


def complaint_fraud(complaint_id, obtained_amount, fine_multiple, reason=None, finding=None) -> dict:
    """骗取救助: the receivable (obtained + fine), the stop, and the aid register's records revoked."""
    complaint = _complaint(complaint_id)
    ctx = current_step()
    obtained = money(obtained_amount)
    try:
        multiple = Decimal(str(fine_multiple)).quantize(CENT)
    except (InvalidOperation, ValueError):
        raise ValueError("罚款倍数应为 1 到 3 倍") from None
    if obtained <= 0:
        raise ValueError("骗取金额必须大于 0")
    if not (multiple.is_finite() and FINE_MIN <= multiple <= FINE_MAX):
        raise ValueError("罚款倍数应为 1 到 3 倍")
    receivable = ctx.session.scalars(select(Receivable).where(Receivable.complaint_id == complaint.id)).first()
    if receivable is None:
        fine = (obtained * multiple).quantize(CENT, rounding=ROUND_HALF_UP)
        receivable = Receivable(complaint_id=complaint.id, case_id=complaint.case_id,
                                recipient_id=complaint.recipient_id, obtained_amount=obtained,
                                fine_multiple=multiple, fine_amount=fine, total=obtained + fine,
                                created_by=ctx.actor or "system", created_at=ctx.now)
        ctx.session.add(receivable)
    reason_text = str(reason or "投诉举报查实骗取社会救助，停发并追缴")[:2000]
    recipient = _recipient(complaint)
    if recipient is not None:
        _stop(recipient, complaint, reason_text, {"complaint_id": complaint.id, "reference": complaint.reference,
                                                  "outcome": "fraud"})
    revoked = revoke_aid(complaint.case_id)
    _close(complaint, ComplaintOutcome.FRAUD, finding or reason_text)
    ctx.session.flush()
    return {"receivable_id": receivable.id, "obtained_amount": money_text(receivable.obtained_amount),
            "fine_amount": money_text(receivable.fine_amount), "total": money_text(receivable.total),
            "revoked_aid_records": revoked}


def revoke_aid(case_id: int | None) -> int:
    """Every aid record the case was granted (in force or ended) becomes REVOKED: the grant was obtained by fraud."""
    if case_id is None:
        return 0
    rows = current_step().session.scalars(select(AidRecord).where(
        AidRecord.case_id == case_id, AidRecord.status.in_((AidStatus.ACTIVE, AidStatus.ENDED))))
    count = 0
    for record in rows:
        record.status = record.status.to(AidStatus.REVOKED)
        count += 1
    return count


COMPLAINT_FUNCTIONS = {
    "complaint_taken_up": complaint_taken_up,
    "complaint_unfounded": complaint_unfounded,
    "complaint_correct": complaint_correct,
    "complaint_fraud": complaint_fraud,
}

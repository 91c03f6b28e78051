"""Reading the register: the list with filters and one recipient with its changes, payments and reviews.

The API and the register page call the same functions; both are scoped by jurisdiction (street staff see their
street, district roles the district) and another jurisdiction's recipient answers exactly like a missing one.
Names are masked (mask_name) and ID numbers never leave here; money is written as "1234.50".
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden, InvalidInput, NotFound

from .. import access
from ..idcard import mask_name
from ..models import User
from .amounts import money_text
from .models import Payment, Recipient, RecipientChange, RecipientStatus, Review
from .months import parse_month


@dataclass
class RegisterFilter:
    program: str | None = None
    street: str | None = None
    community: str | None = None
    status: str | None = None
    month: str | None = None  # "YYYY-MM": households on the register (paid) in that month
    q: str | None = None  # head's name (part of it) or case number

    def check(self) -> RegisterFilter:
        errors = {}
        if self.status and self.status not in {s.value for s in RecipientStatus}:
            errors["status"] = ["只能是 active、suspended、exiting 或 stopped"]
        if self.month:
            try:
                parse_month(self.month)
            except ValueError as exc:
                errors["month"] = [str(exc)]
        if errors:
            raise InvalidInput("查询条件有误", errors)
        return self


def check_register_reader(user: User) -> None:
    """The register (低保/特困 recipients, their amounts, payments and reviews) is 民政's: a member agency's staff
    work their own programs' tasks and cases, never the district's register."""
    if access.is_agency_staff(user):
        raise Forbidden("成员单位人员无权查看保障对象台账")


def _conditions(user: User, flt: RegisterFilter) -> list:
    check_register_reader(user)
    conditions = [access.scope_filter(user, Recipient)]
    for name in ("program", "street", "community"):
        value = getattr(flt, name)
        if value:
            conditions.append(getattr(Recipient, name) == value)
    if flt.status:
        conditions.append(Recipient.status == RecipientStatus(flt.status))
    if flt.month:
        # Months are "YYYY-MM" text: they compare as text (the same rule a payment run uses).
        conditions += [Recipient.since_month <= flt.month,
                       or_(Recipient.end_month.is_(None), Recipient.end_month > flt.month),
                       Recipient.status != RecipientStatus.SUSPENDED]
    if flt.q:
        q = flt.q.strip()[:50]
        if q.isdecimal() and len(q) < 10:
            conditions.append(Recipient.case_id == int(q))
        elif q:
            conditions.append(Recipient.head_name.contains(q, autoescape=True))
    return conditions


def count_recipients(session: Session, user: User, flt: RegisterFilter) -> int:
    return session.scalar(select(func.count()).select_from(Recipient).where(and_(*_conditions(user, flt)))) or 0


def list_recipients(session: Session, user: User, flt: RegisterFilter, *, limit: int | None,
                    offset: int = 0) -> list[Recipient]:
    query = select(Recipient).where(and_(*_conditions(user, flt))).order_by(Recipient.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def iter_recipients(session: Session, user: User, flt: RegisterFilter, *, chunk: int = 1000) -> Iterator[Recipient]:
    """Every matching recipient, oldest first, read in chunks (keyset paging), for exports. Refuses (Forbidden) at
    once, not when the export starts reading."""
    check_register_reader(user)
    return _iter_recipients(session, user, flt, chunk)


def _iter_recipients(session: Session, user: User, flt: RegisterFilter, chunk: int) -> Iterator[Recipient]:
    last = 0
    while True:
        rows = session.scalars(select(Recipient).where(and_(*_conditions(user, flt)), Recipient.id > last)
                               .order_by(Recipient.id).limit(chunk)).all()
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].id


def get_recipient(session: Session, user: User, recipient_id: int) -> Recipient:
    check_register_reader(user)
    recipient = session.get(Recipient, recipient_id)
    if recipient is None or not access.in_scope(user, recipient.district, recipient.street, recipient.community):
        raise NotFound("保障对象不存在")
    return recipient


def recipient_for_case(session: Session, case_id: int) -> Recipient | None:
    """The register entry of a case (the caller has already checked the case is visible)."""
    return session.scalars(select(Recipient).where(Recipient.case_id == case_id)).first()


def _iso(value):
    return value.isoformat() if value is not None else None


def recipient_item(recipient: Recipient) -> dict:
    return {
        "id": recipient.id,
        "case_id": recipient.case_id,
        "program": recipient.program,
        "rule_set": recipient.rule_set,
        "district": recipient.district,
        "street": recipient.street,
        "community": recipient.community,
        "area": recipient.area,
        "head_name": mask_name(recipient.head_name),
        "members": recipient.household_size,
        "category": recipient.category,
        "monthly_amount": money_text(recipient.monthly_amount),
        "breakdown": recipient.breakdown,
        "status": recipient.status.value,
        "since_month": recipient.since_month,
        "end_month": recipient.end_month,
        "next_review_due": _iso(recipient.next_review_due),
    }


def change_item(change: RecipientChange) -> dict:
    return {"id": change.id, "kind": change.kind, "effective_month": change.effective_month,
            "old_amount": money_text(change.old_amount) if change.old_amount is not None else None,
            "new_amount": money_text(change.new_amount) if change.new_amount is not None else None,
            "old_status": change.old_status, "new_status": change.new_status, "reason": change.reason,
            "actor": change.actor, "at": _iso(change.at)}


def payment_item(payment: Payment) -> dict:
    return {"id": payment.id, "run_id": payment.run_id, "for_month": payment.for_month,
            "amount": money_text(payment.amount), "status": payment.status.value, "reason": payment.reason,
            "settled_at": _iso(payment.settled_at)}


def review_item(review: Review) -> dict:
    return {"id": review.id, "trigger": review.trigger, "due_date": _iso(review.due_date),
            "status": review.status.value, "outcome": review.outcome, "reason": review.reason,
            "process_instance_id": review.process_instance_id, "opened_at": _iso(review.opened_at),
            "closed_at": _iso(review.closed_at)}


def history(session: Session, recipient: Recipient) -> dict:
    """Amount changes (oldest first), payments (newest month first) and reviews (newest first)."""
    changes = session.scalars(select(RecipientChange).where(RecipientChange.recipient_id == recipient.id)
                              .order_by(RecipientChange.id)).all()
    payments = session.scalars(select(Payment).where(Payment.recipient_id == recipient.id)
                               .order_by(Payment.for_month.desc(), Payment.id.desc())).all()
    reviews = session.scalars(select(Review).where(Review.recipient_id == recipient.id)
                              .order_by(Review.id.desc())).all()
    return {"changes": [change_item(c) for c in changes], "payments": [payment_item(p) for p in payments],
            "reviews": [review_item(r) for r in reviews]}


def recipient_detail(session: Session, recipient: Recipient) -> dict:
    body = recipient_item(recipient)
    body["monthly_income"] = money_text(recipient.monthly_income)
    body["household"] = [{"key": str(i), "name": mask_name(m.get("name") or ""), "relation": m.get("relation"),
                          "birth_date": m.get("birth_date"), "work_capacity": m.get("work_capacity"),
                          "disability_grade": m.get("disability_grade"),
                          "serious_illness": bool(m.get("serious_illness"))}
                         for i, m in enumerate(recipient.household.get("members") or [])]
    body["stop_reason"] = recipient.stop_reason
    body["bank_name"] = recipient.bank_name
    number = recipient.account_number or ""
    body["account_number"] = ("*" * max(0, len(number) - 4) + number[-4:]) if number else None
    body.update(history(session, recipient))
    return body

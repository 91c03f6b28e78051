"""Events on a recipient (`POST /recipients/{id}/events`): what happens in a household between reviews.

- ``death`` of a member: recorded, and a review due within 3 months (DOMAIN.md: "a death in the family triggers a
  review within 3 months"); the member stays on the register until that review's survey.
- ``income_change``: a review due within 1 month.
- ``labour_refusal``: a working-age member refused suitable public-welfare labour (公益劳动). Refusals are counted
  per member in ``recipient.labour_refusals`` (member key → consecutive refusals); the 3rd consecutive refusal cuts
  that member's share from the next month (an audited change of kind ``labour_cut``).
- ``labour_done``: the member did the month's labour — this is what makes refusals *consecutive*: it resets the
  member's count to 0, and a member who had been cut gets the share back from the next month (``labour_restored``).

Every event is an audited change of kind ``event`` even when nothing else changes. Members are named by their
member key (their index in the household, "0", "1", … — workflows/register/amounts.py) or by their name when it is
unique in the household.
"""
from __future__ import annotations

import re
from datetime import datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.runtime import Engine

from .. import access
from ..idcard import mask_name
from ..models import User
from .amounts import money_text
from .ledger import record_change
from .models import Recipient, RecipientStatus
from .months import add_months_to_date, month_of, next_month
from .reviews import LABOUR_CUT_AFTER, amount_for_month, cut_members, start_review, today_of
from .standards import basis_of, catch_up

EVENT_TYPES = {"death": "家庭成员死亡", "income_change": "家庭收入变化", "labour_refusal": "拒不参加公益劳动",
               "labour_done": "参加公益劳动"}
# Months within which the review an event starts is due.
REVIEW_WITHIN_MONTHS = {"death": 3, "income_change": 1}
NEEDS_MEMBER = frozenset({"death", "labour_refusal", "labour_done"})
# Street staff of the recipient's street and the district's civil-affairs roles record events.
EVENT_ROLES = frozenset({"admin", "street_clerk", "street_reviewer", "district_inspector", "district_approver",
                         "supervisor"})


class EventSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(list(EVENT_TYPES)))
    member = fields.Raw(load_default=None)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def _member_when_needed(self, data, **kwargs):
        member = data.get("member")
        if data.get("type") in NEEDS_MEMBER and (member is None or str(member).strip() == ""):
            raise ValidationError("该事件须指明家庭成员", "member")
        if member is not None and (isinstance(member, bool) or not isinstance(member, str | int)):
            raise ValidationError("家庭成员应为成员序号或姓名", "member")


def member_key(recipient: Recipient, member) -> str:
    """The member key of `member` (a key like "1", or a name unique in the household); InvalidInput otherwise."""
    members = list((recipient.household or {}).get("members") or [])
    text = str(member).strip()
    # ASCII digits only: "²" and "١" pass str.isdigit() but int() refuses them.
    if re.fullmatch(r"[0-9]{1,4}", text) and int(text) < len(members):
        return str(int(text))
    named = [str(i) for i, m in enumerate(members) if str(m.get("name") or "").strip() == text]
    if len(named) == 1:
        return named[0]
    problem = "姓名在家庭中不唯一，请用成员序号" if named else "该家庭没有这名成员"
    raise InvalidInput("家庭成员不存在", {"member": [problem]})


def record_event(session: Session, engine: Engine, recipient_id: int, payload, user: User,
                 now: datetime) -> dict:
    """Record one event (see the module docstring) and commit; the answer describes what it changed."""
    try:
        data = EventSchema().load(payload if isinstance(payload, dict) else {})
    except ValidationError as exc:
        raise InvalidInput("事件信息有误", exc.normalized_messages()) from exc
    recipient = session.scalars(select(Recipient).where(Recipient.id == recipient_id).with_for_update()
                                .execution_options(populate_existing=True)).first()
    if recipient is None or not access.in_scope(user, recipient.district, recipient.street, recipient.community):
        raise NotFound("保障对象不存在")
    if user.role not in EVENT_ROLES:
        raise Forbidden("无权登记保障对象的家庭事件")
    if recipient.status == RecipientStatus.STOPPED:
        raise Conflict("该保障对象已停保，不能登记事件")
    kind = data["type"]
    key = member_key(recipient, data["member"]) if data["member"] is not None else None
    today = today_of(now)
    note = (data["note"] or "").strip() or None
    details = {"type": kind, "member": key, "note": note}
    if key is not None:
        details["member_name"] = mask_name(str(recipient.household["members"][int(key)].get("name") or ""))
    change = record_change(session, recipient, kind="event", actor=user.username,
                           reason=note or EVENT_TYPES[kind], now=now, effective_month=month_of(today),
                           details=details)
    answer: dict = {"type": kind, "member": key, "review": None, "amount_change": None}
    if kind in ("labour_refusal", "labour_done") and key is not None:
        answer["amount_change"] = _labour(session, recipient, key, kind, user, now)
        answer["labour_refusals"] = dict(recipient.labour_refusals or {})
    session.flush()
    answer["change_id"] = change.id
    if kind in REVIEW_WITHIN_MONTHS:
        due = add_months_to_date(today, REVIEW_WITHIN_MONTHS[kind])
        # start_review commits the event's change with the review (engine.start is one transaction).
        review = start_review(session, engine, recipient, trigger=kind, due_date=due, now=now, actor=user.username)
        answer["review"] = {"id": review.id, "due_date": review.due_date.isoformat(), "trigger": review.trigger,
                            "process_instance_id": review.process_instance_id}
    else:
        session.commit()
    answer["monthly_amount"] = money_text(recipient.monthly_amount)
    return answer


def _labour(session: Session, recipient: Recipient, key: str, kind: str, user: User, now: datetime) -> dict | None:
    """Count a refusal (or reset the count); cut or restore the member's share when the count crosses the line."""
    was_cut = key in cut_members(recipient)
    counts = dict(recipient.labour_refusals or {})
    counts[key] = int(counts.get(key, 0)) + 1 if kind == "labour_refusal" else 0
    recipient.labour_refusals = counts  # a new dict: the JSON column sees the change
    is_cut = counts[key] >= LABOUR_CUT_AFTER
    if was_cut == is_cut:
        return None
    # From next month, under the standard in force then, keeping the approver's adjustment (as a standard change
    # does); standards that start later are applied again after it (workflows/register/standards.py).
    effective = next_month(month_of(today_of(now)))
    before = basis_of(recipient)  # the cuts until next month (standards.plan computes earlier months from it)
    amount, breakdown, _ = amount_for_month(session, recipient, effective, keep_adjustment=True)
    change_kind = "labour_cut" if is_cut else "labour_restored"
    reason = (f"连续 {counts[key]} 次拒不参加公益劳动，停发该成员份额" if is_cut else "已参加公益劳动，恢复该成员份额")
    change = record_change(session, recipient, kind=change_kind, actor=user.username, reason=reason, now=now,
                           effective_month=effective, new_amount=amount, breakdown=breakdown,
                           details={"member": key, "refusals": counts[key], "before": before})
    catch_up(session, recipient, effective, actor=user.username, now=now)
    return {"kind": change_kind, "effective_month": change.effective_month,
            "old_amount": money_text(change.old_amount), "new_amount": money_text(amount)}

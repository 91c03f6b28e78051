"""Approval puts the household on the register (保障对象台账), in the same transaction as the approval itself.

`since_month` is computed — the month after the approval day on the Shanghai calendar — never typed: the
payment-setup form's 首次发放月份 is ignored here. The amount is the approved amount (case.amount); the breakdown is
recomputed from the standard and income the case was assessed with, and a difference the approver made is its own
"adjustment" line. A standard that starts by the first paid month (applied while the case was still open) is then
applied to the new recipient like to everyone else: one audited "standard" change each.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.models import HumanTask, TaskStatus

from .. import tekun
from ..aid.records import record_aid
from ..models import Case, Jurisdiction
from ..programs import PROGRAMS
from .amounts import household_amount, money_text, with_adjustment
from .ledger import record_change
from .models import Recipient, RecipientStatus
from .months import first_day, month_of, next_month
from .review_schedule import category_of, next_review_due
from .standards import amount_standard, catch_up, recomputed, record_standard_change

# Programs paid monthly from the register; one-off aid (临时救助 …) is paid with its decision, not monthly.
MONTHLY_PROGRAMS = frozenset({"dibao", "tekun"})


def area_of(session: Session, district: str, street: str, community: str) -> str:
    """urban | rural of a place: the community's own, else its street's, else its district's; urban by default."""
    rows = []
    parent_id = None
    for level, name in (("district", district), ("street", street), ("community", community)):
        query = select(Jurisdiction).where(Jurisdiction.level == level, Jurisdiction.name == name)
        if parent_id is not None:
            query = query.where(Jurisdiction.parent_id == parent_id)
        row = session.scalars(query).first()
        if row is None:
            break
        rows.append(row)
        parent_id = row.id
    for row in reversed(rows):
        if row.area:
            return row.area
    return "urban"


def _money(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        return None


def _assessed_standard(session: Session, case: Case, data: dict, area: str, month: str):
    """The standard the case was assessed with: the row in force if it matches the process data, else the
    figures the process carried (they were read when the case was opened)."""
    row = amount_standard(session, case.district, case.program, area, month)
    carried = _money(data.get("local_standard"))
    if carried is None or (row is not None and row.amount == carried):
        return row
    return SimpleNamespace(amount=carried, topup_rates=data.get("topup_rates"), area=area, effective_from=None)


# The element the district decides in, in both 低保 rule sets: the decision day counts, not the day the case's
# process ends (finance's 发放设置 may finish next month, and that month must still be paid).
APPROVAL_ELEMENT = "approval"


def approval_time(session: Session, case: Case, fallback: datetime) -> datetime:
    """When the district's approval task of the case was completed (the latest, if it was redone)."""
    if case.process_instance_id is None:
        return fallback
    done = session.scalar(
        select(HumanTask.completed_at)
        .where(HumanTask.instance_id == case.process_instance_id, HumanTask.element_id == APPROVAL_ELEMENT,
               HumanTask.status == TaskStatus.COMPLETED)
        .order_by(HumanTask.completed_at.desc()).limit(1)
    )
    return done or fallback


def enrol(session: Session, case: Case, data: dict, *, rule_set: str, actor: str, now: datetime) -> Recipient | None:
    """The recipient for an approved case (created once: a second call answers the existing one). `data` is the
    finished process's data (household, assessed income, bank details). None for programs not paid monthly."""
    existing = session.scalars(select(Recipient).where(Recipient.case_id == case.id)).first()
    if existing is not None or case.program not in MONTHLY_PROGRAMS or case.amount is None:
        return existing
    day: date = approval_time(session, case, now).astimezone(SHANGHAI).date()
    approval_month = month_of(day)
    since = next_month(approval_month)
    area = area_of(session, case.district, case.street, case.community)
    household = {"members": list((data.get("household") or case.household).get("members") or [])}
    income = _money(data.get("assessed_monthly_income"))
    if income is None:
        income = _money(data.get("verified_monthly_income"))
    if income is None:
        income = case.declared_monthly_income
    standard = _assessed_standard(session, case, data, area, approval_month)
    if standard is None:
        standard = SimpleNamespace(amount=case.amount, topup_rates={}, area=area, effective_from=None)
    computed, breakdown = household_amount(household, income, standard, day)
    if case.program == "tekun":  # 特困: basic support plus care allowance by care level, not a household gap
        computed, breakdown = tekun.register_amount(data, standard)
    amount = case.amount
    breakdown = with_adjustment(breakdown, amount)
    category = category_of(household, data, monthly_income=income, today=day)
    recipient = Recipient(
        case_id=case.id, program=case.program, rule_set=rule_set, district=case.district, street=case.street,
        community=case.community, area=area, head_name=case.applicant_name,
        head_id_number=case.applicant_id_number, household=household, household_size=len(household["members"]),
        monthly_income=income, category=category, monthly_amount=amount, breakdown=breakdown,
        status=RecipientStatus.ACTIVE, since_month=since,
        next_review_due=next_review_due(category, rule_set, area, day), end_month=None, labour_refusals={},
        bank_name=_text(data.get("bank_name"), 100), account_number=_text(data.get("account_number"), 30),
        created_at=now, updated_at=now,
    )
    session.add(recipient)
    session.flush()
    record_change(session, recipient, kind="approved", actor=actor, now=now, effective_month=since,
                  reason=f"审批通过，自 {since} 起纳入保障", new_amount=amount, breakdown=breakdown,
                  details={"case_id": case.id, "computed": money_text(computed), "category": category})
    _catch_up_standards(session, recipient, standard, actor=actor, now=now)
    # The joint conference's aid register (救助信息共享): the monthly support from its first paid month.
    record_aid(session, case, program=case.program, agency=PROGRAMS[case.program].lead_agency, now=now,
               period_from=first_day(since), amount=recipient.monthly_amount, monthly=True, granted_by=actor,
               description=f"审批通过，自 {since} 起按月发放")
    return recipient


def _catch_up_standards(session: Session, recipient: Recipient, used, *, actor: str, now: datetime) -> None:
    """Standards that start by the first paid month or later, other than the one the case was assessed with (the
    shared rule of workflows/register/standards.py: standards.catch_up for those after the first month)."""
    in_force = amount_standard(session, recipient.district, recipient.program, recipient.area,
                               recipient.since_month)
    if in_force is not None and in_force is not used and (
            in_force.amount != used.amount or (in_force.topup_rates or {}) != (used.topup_rates or {})):
        month, amount, breakdown = recomputed(recipient, in_force)
        record_standard_change(session, recipient, in_force, month, amount, breakdown, actor=actor, now=now)
    catch_up(session, recipient, recipient.since_month, actor=actor, now=now)


def _text(value, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None

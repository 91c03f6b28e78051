"""临时救助: the functions bpmn/linshi.bpmn calls (registered in workflows.functions.FUNCTIONS).

They run inside the step (workflows.functions explains why): the limits are read and the one-off payment is
written in the step's transaction. Values go in and out of task data as JSON (money as numbers in yuan); the
arithmetic is Decimal (workflows.linshi).
"""
from __future__ import annotations

from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.runtime import current_step

from .aid.models import AidRecord, AidStatus
from .aid.records import record_aid
from .linshi import Tiers, dibao_standard, income_test, money, tiers_for
from .step_case import own_case

PROGRAM = "linshi"
# The aid register's agency is always 区民政局 (the program's lead agency, one of workflows.agencies.AGENCIES, so the
# quarterly report's agency filter selects every 临时救助 record); the tier that approved it (street | district |
# joint) stays in the record's detail.
GRANTING_AGENCY = "区民政局"


def linshi_limits(district, street=None, community=None, fallback_standard=None) -> dict:
    """The district's tiers in yuan now: the 低保 standard where the case is (the program's own standard if the
    district has no 低保 standard) times the district's multiples, and last year's average income."""
    ctx = current_step()
    today = ctx.now.astimezone(SHANGHAI).date()
    standard = dibao_standard(ctx.session, district, today, street, community)
    if standard is None:
        if fallback_standard is None:
            raise ValueError(f"{district} 未设置低保标准，无法计算临时救助审批限额")
        standard = money(fallback_standard)
    return tiers_for(ctx.session, district, standard).as_data()


def linshi_tier(amount, limits) -> str:
    """street | district | joint for an amount under the limits of linshi_limits."""
    return Tiers.from_data(limits).tier_of(amount)


def linshi_income_test(household_monthly_income, household, limits) -> dict:
    """支出型: per-capita monthly income against last year's local average; passed, and the reason when not."""
    average = Tiers.from_data(limits).average_income
    if average is None:
        raise ValueError("本区尚未设置上年度当地居民人均月收入，无法进行支出型收入比对")
    members = len((household or {}).get("members") or [])
    return income_test(household_monthly_income, members, average).as_data()


def linshi_joint_outcome(votes, members) -> dict:
    """一事一议: agreed only when every named member voted and every vote agrees; the dissenting opinions."""
    votes = list(votes or [])
    voted = {v.get("member") for v in votes if isinstance(v, dict)}
    dissent = [v for v in votes if isinstance(v, dict) and v.get("decision") != "approve"]
    agreed = not dissent and set(members or []) <= voted and bool(votes)
    reason = None
    if dissent:
        reason = "一事一议未通过：" + "；".join(f"{v.get('member')}：{v.get('opinion') or '不同意'}" for v in dissent)
    return {"agreed": agreed, "votes": len(votes), "dissent": len(dissent), "reason": reason}


def linshi_pay(case_id, amount, tier, kind=None) -> float:
    """Record the one-off payment in the aid register (idempotent per case and day); returns the amount."""
    ctx = current_step()
    case = own_case(case_id)
    value = money(amount)
    if value <= 0:
        raise ValueError("临时救助金额须大于 0")
    agency = GRANTING_AGENCY
    label = "先行救助" if kind == "emergency" else "临时救助"
    record_aid(ctx.session, case, program=PROGRAM, agency=agency, now=ctx.now,
               period_from=ctx.now.astimezone(SHANGHAI).date(), amount=value, monthly=False,
               description=f"{label}（{case.street}）一次性发放", granted_by=ctx.actor,
               detail={"tier": str(tier), "kind": kind})
    return float(value)


def linshi_revoke(case_id, reason=None) -> int:
    """补办手续 not confirmed: the aid granted first is revoked in the register (recovery follows offline)."""
    session = current_step().session
    case = own_case(case_id)
    rows = session.scalars(select(AidRecord).where(AidRecord.case_id == case.id, AidRecord.program == PROGRAM,
                                                   AidRecord.status == AidStatus.ACTIVE)).all()
    for row in rows:
        row.status = row.status.to(AidStatus.REVOKED)
        row.detail = {**(row.detail or {}), "revoked_reason": str(reason or "")[:500]}
    return len(rows)


FUNCTIONS = {
    "linshi_limits": linshi_limits,
    "linshi_tier": linshi_tier,
    "linshi_income_test": linshi_income_test,
    "linshi_joint_outcome": linshi_joint_outcome,
    "linshi_pay": linshi_pay,
    "linshi_revoke": linshi_revoke,
}

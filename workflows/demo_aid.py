"""Demo aid records: once the demo 低保 cases are approved (their monthly aid is on the aid register), a few other
agencies' aid is added so that the joint conference's page (/reports/aid) shows a duplicate on `make run`:

- a member with a disability gets 助残 from 区残联 (monthly) and, in the same month, a one-off 助残 from
  区慈善协会 → a possible duplicate (two agencies, one kind, one period);
- another household has a past 临时救助, ended → its case page shows past aid.

Missed aid shows by itself: approved demo households with a seriously ill member and no 助医.
Runs once (nothing happens when aid other than 低保/特困 is on the register, or no 低保 case is approved).
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI

from .aid.models import AidRecord, AidStatus
from .aid.records import record_aid
from .models import Case, CaseStatus
from .register.months import add_months, first_day, last_day, month_of

ACTOR = "system:demo"


def _disabled(case: Case) -> bool:
    return any(m.get("disability_grade") for m in (case.household or {}).get("members", []))


def seed_aid(session: Session, engine: Any, echo: Callable[[str], None] = lambda _text: None) -> int:
    """Add the demo's other-agency aid records; returns how many were written."""
    others = session.scalar(select(func.count()).select_from(AidRecord)
                            .where(AidRecord.program.not_in(("dibao", "tekun"))))
    if others:
        return 0
    cases = list(session.scalars(
        select(Case).where(Case.program == "dibao", Case.status == CaseStatus.APPROVED).order_by(Case.id)))
    if not cases:
        return 0
    now = engine.now()
    this_month = month_of(now.astimezone(SHANGHAI).date())
    target = next((c for c in cases if _disabled(c)), cases[0])
    kind, agency = ("zhucan", "区残联") if _disabled(target) else ("zhukun", "区民政局")
    start = first_day(add_months(this_month, -2))
    written = [
        record_aid(session, target, program=kind, agency=agency, now=now, period_from=start,
                   amount=Decimal("300.00"), monthly=True, granted_by=ACTOR, description="残疾人生活补助（按月）"),
        record_aid(session, target, program="cishan", kind=kind, agency="区慈善协会", now=now,
                   period_from=first_day(this_month), amount=Decimal("500.00"), granted_by=ACTOR,
                   description="慈善协会助残慰问金（一次性）"),
    ]
    past = next((c for c in cases if c.id != target.id), None)
    if past is not None:
        month = add_months(this_month, -5)
        record = record_aid(session, past, program="linshi", agency="区民政局", now=now, period_from=first_day(month),
                            period_to=last_day(month), amount=Decimal("1500.00"), granted_by=ACTOR,
                            description="临时救助（支出型，医疗费用）")
        record.status = record.status.to(AidStatus.ENDED)
        written.append(record)
    session.commit()
    echo(f"演示救助记录：{len(written)} 条（含一组疑似重复救助，见“救助信息共享”页面）")
    return len(written)

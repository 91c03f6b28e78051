"""Demo payments: once the demo cases are on the register, the 低保 run of the demo's month is created and confirmed
so that finance's 发放 page has something to show (and the bank file something to export).

Cases approved this month are first paid next month, so when nobody is payable this month the run is prepared for
next month instead. Runs once: nothing happens when there is no one to pay or the run exists already.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI

from .demo import DISTRICT
from .register.models import PaymentRun, Recipient
from .register.months import month_of, next_month
from .register.payment_runs import confirm, create_run, payable

DEMO_PROGRAM = "dibao"


def _payable_count(session: Session, month: str) -> int:
    return int(session.scalar(select(func.count()).select_from(Recipient).where(
        Recipient.program == DEMO_PROGRAM, Recipient.district == DISTRICT, payable(month))) or 0)


def seed_payments(session: Session, engine: Any, echo: Callable[[str], None] = lambda _text: None) -> PaymentRun | None:
    now = engine.now()
    this_month = month_of(now.astimezone(SHANGHAI).date())
    month = next((m for m in (this_month, next_month(this_month)) if _payable_count(session, m)), None)
    if month is None:
        return None
    exists = session.scalar(select(func.count()).select_from(PaymentRun).where(
        PaymentRun.program == DEMO_PROGRAM, PaymentRun.district == DISTRICT, PaymentRun.month == month))
    if exists:
        return None
    run, _ = create_run(session, program=DEMO_PROGRAM, district=DISTRICT, month=month, actor="cz_payer", now=now,
                        calendar=engine.calendar)
    run = confirm(session, run, actor="cz_payer", now=now)
    echo(f"演示发放批次：{month} 低保 {run.households} 户，{run.total} 元（已确认，可导出银行文件）")
    return run

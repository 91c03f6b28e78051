"""The payment run's due date and its deadline sweep: a run is paid "before the 10th" (每月 10 日前发放).

The due day is the last working day before the 10th of the run's month (the 9th, or earlier when the 9th is a
weekend or holiday by the business calendar); the run is due at 24:00 of that day (Asia/Shanghai). The sweep works
on runs that are not yet confirmed (computing or draft) as the task deadline sweeps do on tasks:

* the **reminder** goes to finance (`finance_officer` of the run's district) as the working day before the due day
  begins;
* once the due time has passed the run is marked **overdue** and **escalated** to the `supervisor` of its district.

Each mark is written once on the run (`reminded_at`, `overdue_at`, `escalated_at`) by a conditional UPDATE, with an
outbox event (`payment_run.reminder`, `payment_run.overdue`, `payment_run.escalated`) in the same transaction;
rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers never announce a run twice.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.models import OutboxEvent

from .models import PaymentRun, RunStatus
from .months import parse_month

log = logging.getLogger(__name__)

PAY_BEFORE_DAY = 10
OPEN_STATUSES = (RunStatus.COMPUTING, RunStatus.DRAFT)
# A run is looked at by the sweep from this many days before its due day (reminders come one working day before;
# long holidays such as the Spring Festival can put that more than a week earlier).
LOOK_AHEAD_DAYS = 20
FINANCE_ROLE, SUPERVISOR_ROLE = "finance_officer", "supervisor"


class WorkingDays(Protocol):
    def is_workday(self, d: date) -> bool: ...

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime: ...


def due_date_of(month: str, calendar: WorkingDays | None) -> date:
    """The last working day before the 10th of `month` (the 9th when there is no calendar or no working day)."""
    year, number = parse_month(month)
    day = date(year, number, PAY_BEFORE_DAY - 1)
    if calendar is None:
        return day
    candidate = day
    while candidate.day >= 1:
        if calendar.is_workday(candidate):
            return candidate
        if candidate.day == 1:
            break
        candidate -= timedelta(days=1)
    return day


def due_at(run: PaymentRun) -> datetime:
    """24:00 of the due day, Asia/Shanghai (as 00:00 of the next day, like task deadlines)."""
    return datetime.combine(run.due_date + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def remind_at(run: PaymentRun, calendar: WorkingDays) -> datetime:
    """The start of the working day before the due day."""
    return calendar.subtract_working_days(due_at(run), 2)


def _emit(session: Session, event_type: str, run: PaymentRun, now: datetime, payload: dict) -> None:
    body = {"payment_run_id": run.id, "program": run.program, "district": run.district, "month": run.month,
            "status": run.status.value, "due_date": run.due_date.isoformat()}
    body.update(payload)
    session.add(OutboxEvent(event_type=event_type, instance_id=None, business_key=f"payment_run:{run.id}",
                            payload=body, created_at=now, next_attempt_at=now))


def _mark(session: Session, run: PaymentRun, condition, **values) -> bool:
    result = cast(CursorResult, session.execute(
        update(PaymentRun).where(PaymentRun.id == run.id, PaymentRun.status.in_(OPEN_STATUSES), condition)
        .values(**values).execution_options(synchronize_session=False)))
    return result.rowcount == 1


def _handle(session: Session, run: PaymentRun, calendar: WorkingDays, now: datetime) -> bool:
    if now >= due_at(run):
        if not _mark(session, run, PaymentRun.overdue_at.is_(None), overdue_at=now, escalated_at=now):
            return False
        finance = {"role": FINANCE_ROLE, "district": run.district}
        _emit(session, "payment_run.overdue", run, now, {"recipients": finance})
        _emit(session, "payment_run.escalated", run, now,
              {"recipients": {"role": SUPERVISOR_ROLE, "district": run.district}, "from_level": 0, "level": 1})
        log.info("payment run %s (%s %s %s) overdue, escalated", run.id, run.program, run.district, run.month)
        return True
    if run.reminded_at is None and now >= remind_at(run, calendar):
        if not _mark(session, run, PaymentRun.reminded_at.is_(None), reminded_at=now):
            return False
        _emit(session, "payment_run.reminder", run, now,
              {"recipients": {"role": FINANCE_ROLE, "district": run.district}, "due_at": due_at(run).isoformat()})
        return True
    return False


def sweep_run_deadlines(session: Session, calendar: WorkingDays, now: datetime, *, batch: int = 100,
                        should_stop: Callable[[], bool] | None = None) -> int:
    """Remind, mark overdue and escalate unconfirmed runs; returns how many marks were written. Idempotent."""
    today = now.astimezone(SHANGHAI).date()
    handled = 0
    last_id = 0
    while not (should_stop is not None and should_stop()):
        query: Any = (select(PaymentRun)
                      .where(PaymentRun.status.in_(OPEN_STATUSES), PaymentRun.overdue_at.is_(None),
                             PaymentRun.due_date <= today + timedelta(days=LOOK_AHEAD_DAYS),
                             or_(PaymentRun.reminded_at.is_(None), PaymentRun.due_date < today),
                             PaymentRun.id > last_id)
                      .order_by(PaymentRun.id).limit(batch)
                      .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        try:
            runs = session.scalars(query).all()
            if not runs:
                session.commit()
                break
            for run in runs:
                last_id = run.id
                if _handle(session, run, calendar, now):
                    handled += 1
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return handled

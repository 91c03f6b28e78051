"""Gradual exit (救助渐退) and its end.

When a review finds that the household's income rose through work above the line, assistance does not stop at
once: the recipient becomes `exiting`, keeps its amount unchanged, and is paid N more months after the decision
month (N = JIUZHU_GRADUAL_EXIT_MONTHS, 0–6, default 6). `end_month` is the first month not paid:

    decided in month D → paid D (as before), then D+1 … D+N → end_month = D + 1 + N

With N = 0 the exit is a stop from the next month that keeps the `exiting → stopped` path. When `end_month`
arrives the review sweep stops the recipient (an audited change of kind ``exit_end``).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI

from .ledger import record_change
from .models import Recipient, RecipientStatus
from .months import add_months, month_of

MAX_EXIT_MONTHS = 6
DEFAULT_EXIT_MONTHS = 6
EXIT_BATCH = 200


def exit_months_setting(value) -> int:
    """JIUZHU_GRADUAL_EXIT_MONTHS as a number; ValueError outside 0–6 (the policy's "up to 6 months")."""
    try:
        months = int(str(value if value is not None else DEFAULT_EXIT_MONTHS).strip())
    except ValueError:
        raise ValueError("JIUZHU_GRADUAL_EXIT_MONTHS must be a whole number from 0 to 6") from None
    if not 0 <= months <= MAX_EXIT_MONTHS:
        raise ValueError("JIUZHU_GRADUAL_EXIT_MONTHS must be a whole number from 0 to 6")
    return months


def exit_end_month(decision_month: str, months: int) -> str:
    """The first month not paid after a gradual exit decided in `decision_month` with `months` more payments."""
    return add_months(decision_month, 1 + months)


def begin_exit(session: Session, recipient: Recipient, *, decision_month: str, months: int, actor: str,
               reason: str, now: datetime, details: dict | None = None) -> None:
    """active → exiting, amount unchanged, paid until exit_end_month (see the module docstring)."""
    end_month = exit_end_month(decision_month, months)
    record_change(session, recipient, kind="exit", actor=actor, reason=reason, now=now,
                  effective_month=add_months(decision_month, 1), new_status=RecipientStatus.EXITING,
                  details={**(details or {}), "exit_months": months, "end_month": end_month})
    recipient.end_month = end_month
    recipient.stop_reason = reason


def end_exits(session: Session, now: datetime, should_stop: Callable[[], bool] = lambda: False,
              batch: int = EXIT_BATCH) -> int:
    """exiting → stopped for every recipient whose end_month has come; a batch per commit, rows claimed with
    FOR UPDATE SKIP LOCKED. Returns how many it stopped."""
    month = month_of(now.astimezone(SHANGHAI).date())
    handled = 0
    while not should_stop():
        rows = list(session.scalars(
            select(Recipient).where(Recipient.status == RecipientStatus.EXITING, Recipient.end_month <= month)
            .order_by(Recipient.id).limit(batch).with_for_update(skip_locked=True)))
        if not rows:
            session.rollback()
            break
        for recipient in rows:
            record_change(session, recipient, kind="exit_end", actor="system",
                          reason=f"救助渐退期满，自 {recipient.end_month} 起停发", now=now,
                          effective_month=recipient.end_month or month, new_status=RecipientStatus.STOPPED,
                          details={"end_month": recipient.end_month})
            recipient.next_review_due = None
        session.commit()
        handled += len(rows)
        if len(rows) < batch:
            break
    return handled

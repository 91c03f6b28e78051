"""Periodic reviews (定期复核): starting a review, the due-review sweep, and the functions the review's BPMN scripts
call (bpmn/dibao_review.bpmn).

A review is a `Review` row plus one instance of `dibao_review` with business key ``review:<id>`` and the
recipient's jurisdiction, so the street's inbox shows its tasks. A recipient has at most one open review: a second
trigger while one is open answers the open one (moving its due date earlier when the new trigger is more urgent).

Starting is two steps. `engine.start` only creates the instance, which waits for the message ``review.open``: it
runs no script, so it cannot fail on the recipient's data. Sending that message runs the first script (reading the
register); if the recipient's data is broken, that step fails, rolls back, and the instance becomes an incident
(engine/incidents.py) that an admin sees, fixes and retries — the sweep goes on with the next recipient and does
not trip over the same broken row at every tick. After a retry the sweep sends the message again (a review whose
instance runs but has no open task is one whose opening has not happened yet).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import Conflict
from engine.models import HumanTask, IncidentKind, InstanceStatus, ProcessInstance, TaskStatus
from engine.runtime import Engine, current_step

from .. import access
from ..idcard import mask_name
from ..income import countable_income
from ..listener import keyed_id
from ..models import LocalStandard
from .amounts import household_amount, money_text
from .exits import end_exits
from .models import Recipient, RecipientStatus, Review, ReviewStatus
from .months import month_of
from .queries import check_register_reader
from .standards import amount_standard, recomputed

log = logging.getLogger(__name__)

REVIEW_PROCESS_KEY = "dibao_review"
REVIEW_KEY_PREFIX = "review:"
OPEN_MESSAGE = "review.open"
# The sweep starts a review this many days before it is due: the survey alone may take 10 working days.
LEAD_DAYS = 14
SWEEP_BATCH = 200
# Recipients a review may be started for (a suspended one is looked at when it is resumed; a stopped one never).
REVIEWABLE = (RecipientStatus.ACTIVE, RecipientStatus.EXITING)
# Members whose consecutive refusals of public-welfare labour reach this have their share cut (DOMAIN.md).
LABOUR_CUT_AFTER = 3


def review_business_key(review_id: int) -> str:
    return f"{REVIEW_KEY_PREFIX}{review_id}"


def review_id_of(business_key: str | None) -> int | None:
    return keyed_id(REVIEW_KEY_PREFIX, business_key)


def today_of(now: datetime) -> date:
    """The Shanghai calendar day of an instant (a UTC date is yesterday before 08:00 there)."""
    return now.astimezone(SHANGHAI).date()


def _never() -> bool:
    return False


# -- starting ----------------------------------------------------------------------------------------------------

def open_review_of(session: Session, recipient_id: int) -> Review | None:
    return session.scalars(select(Review).where(Review.recipient_id == recipient_id,
                                                Review.status == ReviewStatus.OPEN).limit(1)).first()


def _lock(session: Session, recipient_id: int, *, skip_locked: bool = False) -> Recipient | None:
    # FOR UPDATE on the recipient serialises "is a review open?" with creating one (PostgreSQL; SQLite serialises
    # writers itself), so two triggers never open two reviews.
    return session.scalars(select(Recipient).where(Recipient.id == recipient_id)
                           .with_for_update(skip_locked=skip_locked)
                           .execution_options(populate_existing=True)).first()


def start_review(session: Session, engine: Engine, recipient: Recipient, *, trigger: str, due_date: date,
                 now: datetime, actor: str = "system") -> Review:
    """Open a review of `recipient` (or answer its open one) and commit; see the module docstring."""
    locked = _lock(session, recipient.id)
    assert locked is not None
    review = _start_locked(session, engine, locked, trigger=trigger, due_date=due_date, now=now, actor=actor)
    open_review(engine, review)
    return review


def _start_locked(session: Session, engine: Engine, recipient: Recipient, *, trigger: str, due_date: date,
                  now: datetime, actor: str) -> Review:
    if recipient.status not in REVIEWABLE:
        raise Conflict("该保障对象当前状态不能发起复核")
    existing = open_review_of(session, recipient.id)
    if existing is not None:
        if due_date < existing.due_date:
            existing.due_date = due_date
        session.commit()
        return existing
    review = Review(recipient_id=recipient.id, trigger=trigger, due_date=due_date, status=ReviewStatus.OPEN,
                    opened_at=now)
    try:
        # A savepoint: where no row lock serialised us (SQLite), the web (an event) and the worker (the sweep) may
        # both get here; the one-open-review index refuses the second, which then answers the first's review
        # without losing what the caller has written in this transaction (the event's audited row).
        with session.begin_nested():
            session.add(review)
            session.flush()
    except IntegrityError:
        existing = open_review_of(session, recipient.id)
        if existing is None:  # pragma: no cover - the index only refuses when an open review exists
            raise
        session.commit()
        return existing
    # engine.start commits the review row with the instance (and the listener links them), or neither.
    engine.start(
        REVIEW_PROCESS_KEY,
        business_key=review_business_key(review.id),
        started_by=actor,
        scope={"district": recipient.district, "street": recipient.street, "community": recipient.community},
        data={"review_id": review.id, "recipient_id": recipient.id, "trigger": trigger,
              "due_date": due_date.isoformat(), "program": recipient.program, "district": recipient.district,
              "street": recipient.street, "community": recipient.community},
    )
    return review


def open_review(engine: Engine, review: Review) -> bool:
    """Send ``review.open`` to the review's instance; a failure parks the instance as an incident. Returns whether
    the review is open for work (its first task exists)."""
    instance_id = review.process_instance_id
    if instance_id is None:
        return False
    try:
        engine.send_message(instance_id, OPEN_MESSAGE, {"review_id": review.id}, actor="system")
        return True
    except Conflict:
        engine.session.rollback()
        return False  # opened already (another worker), or the instance is not waiting any more
    except Exception as exc:
        log.warning("review %s: opening failed, instance %s becomes an incident", review.id, instance_id,
                    exc_info=True)
        try:
            engine.open_incident(instance_id, IncidentKind.MESSAGE, exc)
        except Exception:
            log.exception("review %s: could not open an incident; the sweep tries again", review.id)
            engine.session.rollback()
        return False


# -- the sweep ---------------------------------------------------------------------------------------------------

def _due_condition(horizon: date):
    open_review = exists().where(Review.recipient_id == Recipient.id, Review.status == ReviewStatus.OPEN)
    return and_(Recipient.status.in_(REVIEWABLE), Recipient.next_review_due <= horizon, ~open_review)


def sweep_due_reviews(session: Session, engine: Engine, now: datetime,
                      should_stop: Callable[[], bool] = _never, *, batch: int = SWEEP_BATCH,
                      limit: int | None = None) -> int:
    """Start the review of every recipient due within LEAD_DAYS, end gradual exits whose last month has passed,
    and open reviews whose opening failed before; returns how many items it handled. Idempotent: recipients are
    claimed one by one with FOR UPDATE SKIP LOCKED, so workers side by side never start one review twice."""
    from_exits = end_exits(session, now, should_stop)
    horizon = today_of(now) + timedelta(days=LEAD_DAYS)
    handled, last_id = 0, 0
    while not should_stop() and (limit is None or handled < limit):
        ids = list(session.scalars(select(Recipient.id).where(_due_condition(horizon), Recipient.id > last_id)
                                   .order_by(Recipient.id).limit(batch)))
        session.rollback()  # end the read; each start is its own transaction
        if not ids:
            break
        for recipient_id in ids:
            if should_stop() or (limit is not None and handled >= limit):
                break
            last_id = recipient_id
            try:
                if _sweep_one(session, engine, recipient_id, horizon, now):
                    handled += 1
            except Exception:
                # A start that fails (no instance could be created) is logged; the sweep goes on.
                log.exception("review sweep: recipient %s failed", recipient_id)
                session.rollback()
    return from_exits + handled + _reopen(session, engine, should_stop)


def _sweep_one(session: Session, engine: Engine, recipient_id: int, horizon: date, now: datetime) -> bool:
    recipient = session.scalars(select(Recipient).where(Recipient.id == recipient_id, _due_condition(horizon))
                                .with_for_update(skip_locked=True).execution_options(populate_existing=True)).first()
    if recipient is None:
        session.rollback()  # another worker has it, or it is no longer due
        return False
    review = _start_locked(session, engine, recipient, trigger="periodic",
                           due_date=recipient.next_review_due or today_of(now),
                           now=now, actor="system")
    open_review(engine, review)
    return True


def _reopen(session: Session, engine: Engine, should_stop: Callable[[], bool], limit: int = 200) -> int:
    """Open reviews whose instance runs but has no open task: their opening failed and the incident was retried
    (or the process died between the two steps)."""
    open_task = exists().where(HumanTask.instance_id == ProcessInstance.id, HumanTask.status == TaskStatus.OPEN)
    rows = list(session.scalars(
        select(Review).join(ProcessInstance, ProcessInstance.id == Review.process_instance_id)
        .where(Review.status == ReviewStatus.OPEN, ProcessInstance.status == InstanceStatus.RUNNING, ~open_task)
        .order_by(Review.id).limit(limit)))
    session.rollback()
    count = 0
    for review in rows:
        if should_stop():
            break
        count += int(open_review(engine, review))
    return count


# -- amounts -----------------------------------------------------------------------------------------------------

def cut_members(recipient: Recipient) -> set[str]:
    """Member keys whose share is cut: LABOUR_CUT_AFTER consecutive refusals of public-welfare labour."""
    return {key for key, count in (recipient.labour_refusals or {}).items() if int(count) >= LABOUR_CUT_AFTER}


def recompute(session: Session, recipient: Recipient, today: date, *, monthly_income=None,
              cuts: set[str] | None = None) -> tuple[Decimal, dict]:
    """The recipient's amount under the standard in force this month, its household and income (default: the
    register's), with the labour cuts; ValueError (Chinese) when no standard is set."""
    standard = amount_standard(session, recipient.district, recipient.program, recipient.area, month_of(today))
    if standard is None:
        raise ValueError(f"{recipient.district} 未设置 {recipient.program} 的保障标准")
    if recipient.program == "tekun":
        # 特困's support follows the standard and the care level, not the income: the review confirms it.
        _, amount, breakdown = recomputed(recipient, standard, month_of(today), keep_adjustment=False)
        return amount, breakdown
    income = recipient.monthly_income if monthly_income is None else monthly_income
    return household_amount(recipient.household, income, standard, today,
                            cut_members=cut_members(recipient) if cuts is None else cuts)


def amount_for_month(session: Session, recipient: Recipient, month: str, *,
                     keep_adjustment: bool) -> tuple[Decimal, dict, LocalStandard]:
    """(amount, breakdown, standard) of a change effective `month`: under the standard in force in that month
    (which may be newer than today's), the register's household, income and labour cuts, and — when
    `keep_adjustment` — the approver's adjustment, as a standard change keeps it (workflows/register/standards.py).
    ValueError (Chinese) when no standard is set."""
    standard = amount_standard(session, recipient.district, recipient.program, recipient.area, month)
    if standard is None:
        raise ValueError(f"{recipient.district} 未设置 {recipient.program} 的保障标准")
    _, amount, breakdown = recomputed(recipient, standard, month, cuts=cut_members(recipient),
                                      keep_adjustment=keep_adjustment)
    return amount, breakdown, standard


# -- functions the review's scripts call (whitelisted into the sandbox by web/engine_setup.py) -------------------

def _recipient_of_review(review_id) -> Recipient:
    ctx = current_step()
    review = ctx.session.get(Review, int(review_id))
    recipient = ctx.session.get(Recipient, review.recipient_id) if review else None
    if recipient is None:
        raise ValueError(f"复核 {review_id} 的保障对象不存在")
    return recipient


def review_recipient(review_id) -> dict:
    """What the survey starts from: the register's household (names masked), amount, income and category."""
    recipient = _recipient_of_review(review_id)
    members = (recipient.household or {}).get("members") if isinstance(recipient.household, dict) else None
    if not members or not isinstance(members, list):
        raise ValueError(f"保障对象 {recipient.id} 的台账缺少家庭成员，请先更正台账")
    return {
        "recipient_id": recipient.id,
        "head_name": mask_name(recipient.head_name),
        "household_size": len(members),
        "members": [{"member": str(i), "name": mask_name(str(m.get("name") or "")),
                     "relation": m.get("relation"), "work_capacity": m.get("work_capacity")}
                    for i, m in enumerate(members)],
        "monthly_amount": money_text(recipient.monthly_amount),
        "monthly_income": money_text(recipient.monthly_income),
        "category": recipient.category,
        "status": recipient.status.value,
        "labour_cuts": sorted(cut_members(recipient)),
    }


def review_recompute(review_id, income_items) -> dict:
    """The survey's countable income and the amount it gives under today's standard (as decimal strings)."""
    recipient = _recipient_of_review(review_id)
    assessment = countable_income(income_items or [])
    today = today_of(current_step().now)
    amount, breakdown = recompute(current_step().session, recipient, today, monthly_income=assessment.countable)
    previous = recipient.monthly_amount
    suggested = "continue" if amount == previous else ("raise" if amount > previous else "lower")
    if amount <= 0:
        suggested = "stop"
    return {
        "gross_income": money_text(assessment.gross), "excluded_income": money_text(assessment.excluded),
        "deducted_income": money_text(assessment.deducted),
        "assessed_monthly_income": money_text(assessment.countable),
        "previous_amount": money_text(previous), "proposed_amount": money_text(amount),
        "breakdown": breakdown, "suggested_outcome": suggested,
    }


REVIEW_FUNCTIONS = {
    "review_recipient": review_recipient,
    "review_recompute": review_recompute,
}


# -- the list (GET /reviews) -------------------------------------------------------------------------------------

def list_reviews(session: Session, user, *, status: str | None = None, due_before: date | None = None,
                 street: str | None = None, recipient_id: int | None = None, limit: int = 50,
                 offset: int = 0) -> list[dict]:
    """Reviews of recipients in the user's jurisdiction, soonest due first, each with its open tasks' names."""
    check_register_reader(user)
    conditions = [access.scope_filter(user, Recipient)]
    if status:
        conditions.append(Review.status == ReviewStatus(status))
    if due_before:
        conditions.append(Review.due_date < due_before)
    if street:
        conditions.append(Recipient.street == street)
    if recipient_id is not None:
        conditions.append(Review.recipient_id == recipient_id)
    rows = session.execute(
        select(Review, Recipient.street).join(Recipient, Recipient.id == Review.recipient_id)
        .where(and_(*conditions)).order_by(Review.due_date, Review.id).limit(limit).offset(offset)).all()
    instance_ids = [r.process_instance_id for r, _ in rows if r.process_instance_id is not None]
    tasks: dict[int, list[str]] = {}
    if instance_ids:
        for instance_id, name in session.execute(
                select(HumanTask.instance_id, HumanTask.name)
                .where(HumanTask.instance_id.in_(instance_ids), HumanTask.status == TaskStatus.OPEN)
                .order_by(HumanTask.id)):
            tasks.setdefault(instance_id, []).append(name)
    return [{"id": r.id, "recipient_id": r.recipient_id, "street": street_name, "trigger": r.trigger,
             "due_date": r.due_date.isoformat(), "status": r.status.value, "outcome": r.outcome,
             "reason": r.reason, "process_instance_id": r.process_instance_id,
             "opened_at": r.opened_at.isoformat(), "closed_at": r.closed_at.isoformat() if r.closed_at else None,
             "tasks": tasks.get(r.process_instance_id or 0, [])} for r, street_name in rows]

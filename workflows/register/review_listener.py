"""The engine listener of review instances: links the instance to its `Review`, checks the district's decision
against the recomputation, and applies the finished review to the recipient — inside the step's transaction, so
the completion, the register's change and its audited row commit together or not at all.

Outcomes (the decision month D is the Shanghai month of the step that finishes the review):
- continue: amount unchanged; an audited ``review`` row; the next review due by the schedule from today;
- raise / lower: the recomputed amount from D+1 (the month after the decision: D's payment may already be
  computed or paid, and the household is told before its amount changes); next review by the schedule. The amount
  is computed again when the review finishes, with the survey's income, under the standard in force in D+1 (a
  standard applied since the survey counts), and every standard starting after D+1 is applied again after it
  (standards.catch_up), so a standard applied before the decision is not hidden by it. A review is a new decision
  on the amount: an approver's adjustment from the approval does not carry over;
- stop: active/exiting → stopped from D+1 (end_month = D+1), the reason kept; applied when the written notice
  (书面告知) has been served, which is when the instance finishes;
- exit: active → exiting, amount unchanged, end_month = D + 1 + N (workflows/register/exits.py).
Every outcome also writes the survey's income onto the register (monthly_income, income items), and a review of
an `exiting` recipient that does not stop or exit again brings it back to `active`.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from engine.errors import InvalidInput
from engine.runtime import StepContext

from ..listener import current_data
from .exits import begin_exit
from .ledger import record_change
from .models import Recipient, RecipientStatus, Review, ReviewStatus
from .months import month_of, next_month
from .review_schedule import next_review_due
from .reviews import REVIEW_PROCESS_KEY, amount_for_month, review_id_of, today_of
from .standards import basis_of, catch_up, standard_item

DECISION_TASK = "district_decision"


class ReviewOutcome:
    def __init__(self, exit_months: Callable[[], int]):
        # A callable: the setting is read when a review finishes, so tests and deployments may change it.
        self.exit_months = exit_months

    def after_step(self, ctx: StepContext, workflow) -> None:
        instance = ctx.instance
        review_id = review_id_of(instance.business_key)
        if review_id is None or instance.process_key != REVIEW_PROCESS_KEY:
            return
        review = ctx.session.get(Review, review_id)
        if review is None:
            return
        if review.process_instance_id is None:
            review.process_instance_id = instance.id
        elif review.process_instance_id != instance.id:
            return  # another instance naming the same key is not this review's
        data = current_data(workflow)
        if ctx.completed_task is not None and ctx.completed_task.element_id == DECISION_TASK:
            _check_decision(data)
        if ctx.instance_completed and review.status == ReviewStatus.OPEN:
            recipient = ctx.session.get(Recipient, review.recipient_id)
            if recipient is not None:
                _apply(ctx, review, recipient, data, self.exit_months())
            _close(review)
            review.outcome = data.get("outcome")
            review.reason = data.get("reason") or data.get("opinion")
            review.closed_at = ctx.now


def _close(review: Review) -> None:
    review.status = review.status.to(ReviewStatus.DONE)


def _amounts(data: dict) -> tuple[Decimal, Decimal]:
    recomputed = data.get("recomputed") or {}
    return Decimal(str(recomputed.get("previous_amount"))), Decimal(str(recomputed.get("proposed_amount")))


def _check_decision(data: dict) -> None:
    """The decision must fit the recomputation: a raise raises, a lower lowers, an exit needs work income."""
    outcome = data.get("outcome")
    previous, proposed = _amounts(data)
    problem = None
    if outcome == "raise" and not proposed > previous:
        problem = f"重新核算金额 {proposed} 元不高于现行金额 {previous} 元，不能提高"
    elif outcome == "lower" and not (0 < proposed < previous):
        problem = (f"重新核算金额 {proposed} 元不低于现行金额 {previous} 元，不能降低" if proposed >= previous
                   else "重新核算金额为 0，应停保或渐退")
    elif outcome == "continue" and proposed <= 0:
        problem = "重新核算金额为 0，不能维持原待遇，应停保或渐退"
    elif outcome == "exit" and not data.get("income_from_work"):
        problem = "救助渐退仅适用于因就业收入增加的家庭（复核入户调查须勾选“就业增收”）"
    if problem:
        raise InvalidInput("复核决定与重新核算结果不符", {"outcome": [problem]})


def _apply(ctx: StepContext, review: Review, recipient: Recipient, data: dict, exit_months: int) -> None:
    today = today_of(ctx.now)
    month = month_of(today)
    effective = next_month(month)
    outcome = data.get("outcome")
    reason = data.get("reason") or data.get("opinion") or "定期复核"
    actor = ctx.actor or "system"
    recomputed = data.get("recomputed") or {}
    details = {"review_id": review.id, "outcome": outcome, "trigger": review.trigger,
               "assessed_monthly_income": recomputed.get("assessed_monthly_income"),
               "proposed_amount": recomputed.get("proposed_amount"),
               # What the register held before the survey: months before D+1 are computed from it
               # (standards.plan), should a standard starting earlier be applied after this review.
               "before": basis_of(recipient)}
    if recipient.status == RecipientStatus.STOPPED:
        return  # stopped meanwhile (an exit that ran out): the review is closed, the register stays as it is
    income_before = recipient.monthly_income
    _update_income(recipient, data, recomputed)
    if outcome == "stop":
        record_change(ctx.session, recipient, kind="stop", actor=actor, reason=reason, now=ctx.now,
                      effective_month=effective, new_status=RecipientStatus.STOPPED, details=details)
        recipient.end_month = effective
        recipient.stop_reason = reason
        recipient.next_review_due = None
        return
    if outcome == "exit":
        if recipient.status == RecipientStatus.EXITING:
            return  # already leaving: the running exit keeps its end month
        begin_exit(ctx.session, recipient, decision_month=month, months=exit_months, actor=actor, reason=reason,
                   now=ctx.now, details=details)
        recipient.next_review_due = None
        return
    new_status = RecipientStatus.ACTIVE if recipient.status == RecipientStatus.EXITING else None
    if new_status is not None:
        recipient.end_month = None
        recipient.stop_reason = None
    new_amount = breakdown = None
    if outcome in ("raise", "lower"):
        new_amount, breakdown, standard = _amount_from(ctx, recipient, effective, recomputed)
        if standard is not None:
            item = standard_item(standard)
            details.update(standard=item["amount"], standard_from=item["effective_month"])
    record_change(ctx.session, recipient, kind="review", actor=actor, reason=reason, now=ctx.now,
                  effective_month=effective, new_amount=new_amount, breakdown=breakdown, new_status=new_status,
                  details=details)
    if new_amount is not None or new_status is not None or recipient.monthly_income != income_before:
        # Standards applied before this review, from after D+1, were computed with what it has just changed.
        catch_up(ctx.session, recipient, effective, actor=actor, now=ctx.now)
    recipient.next_review_due = next_review_due(recipient.category, recipient.rule_set, recipient.area, today)


def _amount_from(ctx: StepContext, recipient: Recipient, month: str, recomputed: dict):
    """(amount, breakdown, standard) of a raise or lower effective `month`; the survey's figures when no standard
    is in force (the survey needed one, so only a deleted standard gets here)."""
    try:
        return amount_for_month(ctx.session, recipient, month, keep_adjustment=False)
    except ValueError:
        return Decimal(str(recomputed["proposed_amount"])), recomputed.get("breakdown"), None


def _update_income(recipient: Recipient, data: dict, recomputed: dict) -> None:
    """The survey's figures become the register's: the income the amount uses and the items it came from."""
    if recomputed.get("assessed_monthly_income") is not None:
        recipient.monthly_income = Decimal(str(recomputed["assessed_monthly_income"]))
    household = dict(recipient.household or {})
    household["income_items"] = list(data.get("income_items") or [])
    recipient.household = household

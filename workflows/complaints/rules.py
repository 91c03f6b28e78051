"""A reported household's next decision is always spot-checked (投诉举报 → 100% 入户抽查), as an objected case is.

"Reported": a complaint about the household that is still open, or was found true (corrected, fraud), received
before the decision, and not yet followed by a decision of the household. A complaint forces the visit on the
household's next decision only: once one of its cases has been through the spot-check selection (the
spot_check_selected audit entry) or been decided after the complaint, that complaint no longer counts. An unfounded
complaint, once closed, no longer counts either.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Exists, and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from engine.models import AuditEntry

from ..aid.records import household_id_numbers
from ..audit_actions import CaseAction
from ..listener import case_id_of
from ..models import Case
from .models import FOUNDED, Complaint, ComplaintStatus


def household_reported(session: Session, case: Case, before: datetime, *, instance_id: int | None = None) -> bool:
    """Does a complaint about this case, or about any member of its household, make its decision mandatory?
    `instance_id` is the deciding instance: its own earlier selection (a case sent back past its notice) is the
    same decision, not a later one."""
    return bool(session.scalar(select(REPORTED), reported_params(case, before, instance_id=instance_id)))


def _reported(case_id, numbers, before, instance_id) -> Exists:
    live = or_(Complaint.status != ComplaintStatus.CLOSED, Complaint.outcome.in_(FOUNDED))
    about = or_(Complaint.case_id == case_id, Complaint.household_id_number.in_(numbers))
    # The household's cases: this one, the one the complaint names, and any applied for by a member.
    household_case = or_(Case.id == case_id, Case.id == Complaint.case_id, Case.applicant_id_number.in_(numbers))
    decided_since = exists().where(household_case, Case.decided_at > Complaint.created_at,
                                   Case.decided_at <= before)
    selected_since = exists().where(
        household_case, AuditEntry.instance_id == Case.process_instance_id,
        AuditEntry.action == CaseAction.SPOT_CHECK_SELECTED.value, AuditEntry.at > Complaint.created_at,
        AuditEntry.at <= before, AuditEntry.instance_id != instance_id)
    return exists().where(about, live, Complaint.created_at <= before, and_(~decided_since, ~selected_since))


# household_reported as one prepared EXISTS on bound parameters (`reported_params`): built once, so its SQL and
# cache key are reused, and a caller may ask it inside a statement it runs anyway (the spot-check selection asks
# it with its tally read: one round trip fewer per decision).
REPORTED = _reported(bindparam("reported_case_id"), bindparam("reported_numbers", expanding=True),
                     bindparam("reported_before"), bindparam("reported_instance_id"))


def reported_params(case: Case, before: datetime, *, instance_id: int | None = None) -> dict:
    """The parameters of REPORTED for this case, decided at `before` by instance `instance_id`."""
    return {"reported_case_id": case.id, "reported_numbers": household_id_numbers(case), "reported_before": before,
            "reported_instance_id": instance_id if instance_id is not None else -1}


def case_in_step(ctx) -> Case | None:
    """The case whose instance runs the step (business key "case:<id>"); None for any other instance."""
    case_id = case_id_of(ctx.instance.business_key)
    return ctx.session.get(Case, case_id) if case_id is not None else None

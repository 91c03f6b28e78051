"""The engine hook that enrols an approved case on the register in the step that finishes its process."""
from __future__ import annotations

from engine.runtime import StepContext

from ..listener import case_id_of, current_data
from ..models import Case, CaseStatus
from .enrolment import enrol


class RegisterEnrolment:
    """Runs after workflows.listener.CaseProjection, which has just marked the case approved with its amount."""

    def after_step(self, ctx: StepContext, workflow) -> None:
        if not ctx.instance_completed:
            return
        case_id = case_id_of(ctx.instance.business_key)
        case = ctx.session.get(Case, case_id) if case_id is not None else None
        if case is None or case.process_instance_id != ctx.instance.id or case.status != CaseStatus.APPROVED:
            return
        enrol(ctx.session, case, current_data(workflow), rule_set=ctx.instance.process_key,
              actor=ctx.actor or "system", now=ctx.now)

"""The case of the current step: what a script function that writes to a case (the aid register, its status)
must go through. Only the case's own instance may write to it — an instance started with another case's id in its
data (or naming another case's key) must not pay, grant or revoke aid for that case. The same rule as the case
projection (workflows.listener.CaseProjection)."""
from __future__ import annotations

from engine.runtime import current_step

from .listener import case_id_of
from .models import Case


def own_case(case_id) -> Case:
    """The case `case_id` if the running step belongs to its instance; else ValueError (the step fails)."""
    ctx = current_step()
    try:
        number = int(case_id)
    except (TypeError, ValueError):
        raise ValueError(f"案件编号无效：{case_id!r}") from None
    case = ctx.session.get(Case, number)
    if case is None:
        raise ValueError(f"案件不存在：{case_id}")
    # The instance runs under the case's key, and the case is linked to this instance (or not yet to any: the first
    # steps run before the projection links it).
    if case_id_of(ctx.instance.business_key) != case.id or case.process_instance_id not in (None, ctx.instance.id):
        raise ValueError(f"案件 {case.id} 不属于本流程，本流程不能为其登记或变更救助")
    return case

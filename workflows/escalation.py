"""The escalation chain of social-assistance work: street → district → supervisor (督办).

An overdue task first goes to the role its diagram names in `escalateTo` (e.g. the street's 审核人 for a late
household survey), in the task's own jurisdiction; each further period it stays open, one level up: the street's
reviewer → the district civil-affairs approver (区民政局) → the leading group's supervisor (领导小组办公室), who is
the top. A task without `escalateTo` starts one level above its own role. An agency's task (区教委, 区残联 …) goes
from its officer to that agency's lead, then to the supervisor.
"""
from __future__ import annotations

from engine.deadlines import EscalationPolicy

from .roles import AGENCY_ROLES, ROLES

# role → the role one level up; None: the top of the chain.
UP: dict[str, str | None] = {
    "community_worker": "street_reviewer",
    "street_clerk": "street_reviewer",
    "street_reviewer": "district_approver",
    "district_inspector": "district_approver",
    "finance_officer": "supervisor",
    "district_approver": "supervisor",
    "supervisor": None,
    # A member agency's task: officer → the agency's lead → the leading group's supervisor (in 民政局).
    "agency_officer": "agency_lead",
    "agency_lead": "supervisor",
}

DEFAULT_REPEAT_AFTER_WORKING_DAYS = 2


def policy(repeat_after_working_days: int = DEFAULT_REPEAT_AFTER_WORKING_DAYS) -> EscalationPolicy:
    return EscalationPolicy(
        up=UP,
        role_level={key: role.level for key, role in ROLES.items()},
        repeat_after_working_days=repeat_after_working_days,
        instance_overdue_role="supervisor",
        agency_roles=AGENCY_ROLES,
    )


def chain_from(role: str | None) -> list[str]:
    """The roles above `role`, nearest first (for display)."""
    chain: list[str] = []
    current = UP.get(role) if role else None
    while current and current not in chain:
        chain.append(current)
        current = UP.get(current)
    return chain

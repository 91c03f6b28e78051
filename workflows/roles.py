"""Roles and the level of jurisdiction each works at."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    level: str  # community, street, district or all: how far the role's view reaches


ROLES: dict[str, Role] = {r.key: r for r in (
    Role("admin", "系统管理员", "all"),
    Role("process_designer", "流程设计员", "all"),
    Role("community_worker", "社区社会保障工作者", "community"),
    Role("street_clerk", "街道经办人", "street"),
    Role("street_reviewer", "街道审核人", "street"),
    Role("district_inspector", "区民政局抽查员", "district"),
    Role("district_approver", "区民政局审批人", "district"),
    Role("finance_officer", "区财政发放专员", "district"),
    Role("supervisor", "督办人（领导小组办公室）", "district"),
    # Staff of a member agency (workflows.agencies): a task for these roles also names its agency, and only that
    # agency's staff see and work it.
    Role("agency_officer", "成员单位经办人（办理）", "district"),
    Role("agency_lead", "成员单位负责人（审核）", "district"),
)}

# Roles held for one agency: their tasks, inbox and cases are narrowed to `User.agency`.
AGENCY_ROLES = frozenset({"agency_officer", "agency_lead"})

# Who designs processes and forms (the modeler, the form designer and their APIs); roles_required lets admin in too.
DESIGNERS = ("process_designer",)

# Roles a BPMN lane or candidateGroups may name: people who work tasks.
TASK_ROLES = frozenset(k for k in ROLES if k not in {"admin", "process_designer"})

# The agency a role belongs to, for supervisors' per-agency views.
AGENCY_OF_ROLE = {
    "community_worker": "社区居委会",
    "street_clerk": "街道办事处",
    "street_reviewer": "街道办事处",
    "district_inspector": "区民政局",
    "district_approver": "区民政局",
    "finance_officer": "区财政局",
    "supervisor": "区民政局",
}

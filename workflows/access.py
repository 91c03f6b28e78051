"""Who may see and act on what: by role and by jurisdiction (district → street → community)."""
from __future__ import annotations

from sqlalchemy import and_, false, or_, true

from engine.models import HumanTask

from .models import Case, User
from .roles import ROLES

WHOLE_SYSTEM = {"admin"}
READS_DISTRICT = {"supervisor", "district_inspector", "district_approver", "finance_officer", "process_designer"}


def level_of(user: User) -> str:
    role = ROLES.get(user.role)
    return role.level if role else "community"


def in_scope(user: User, district: str | None, street: str | None, community: str | None) -> bool:
    """Is a place inside the user's jurisdiction? Admins see everything."""
    if user.role in WHOLE_SYSTEM:
        return True
    level = level_of(user)
    if level == "all":
        return True
    if user.district and district != user.district:
        return False
    if level == "district":
        return True
    if street != user.street:
        return False
    if level == "street":
        return True
    return community == user.community


def scope_filter(user: User, model):
    """The same rule as `in_scope`, as a SQL condition on a model with district/street/community columns."""
    if user.role in WHOLE_SYSTEM or level_of(user) == "all":
        return true()
    conditions = []
    if user.district:
        conditions.append(model.district == user.district)
    level = level_of(user)
    if level in ("street", "community"):
        conditions.append(model.street == user.street)
    if level == "community":
        conditions.append(model.community == user.community)
    return and_(*conditions) if conditions else false()


def can_see_task(user: User, task: HumanTask) -> bool:
    if task.assignee == user.username:
        return True
    return in_scope(user, task.district, task.street, task.community)


def can_work_task(user: User, task: HumanTask) -> bool:
    """May complete or claim: the task's role in the user's jurisdiction, or the task is assigned to the user."""
    if task.assignee is not None:
        return task.assignee == user.username
    if task.role is None:
        return False
    return task.role == user.role and in_scope(user, task.district, task.street, task.community)


def group_tasks_filter(user: User):
    """Tasks of the user's role in the user's jurisdiction, claimed or not."""
    return and_(HumanTask.role == user.role, scope_filter(user, HumanTask))


def visible_tasks_filter(user: User):
    return or_(HumanTask.assignee == user.username, scope_filter(user, HumanTask))


def can_see_instance(user: User, instance) -> bool:
    """The instance's starter, or anyone whose jurisdiction covers where it runs."""
    return instance.started_by == user.username or in_scope(user, instance.district, instance.street,
                                                               instance.community)


def can_see_case(user: User, case: Case) -> bool:
    return in_scope(user, case.district, case.street, case.community)


def can_open_case(user: User, street: str, community: str, district: str) -> bool:
    """Applications are taken by the street office or lodged by a community worker for the applicant."""
    if user.role == "admin":
        return True
    if user.role not in ("community_worker", "street_clerk"):
        return False
    return in_scope(user, district, street, community)

"""Who may see and act on what: by role, by jurisdiction (district → street → community) and, for the staff of a
member agency (`agency_officer`, `agency_lead`), by agency: they see and work their own agency's tasks, and the
cases their agency leads or has a task in — never another agency's."""
from __future__ import annotations

from sqlalchemy import Boolean, and_, exists, false, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import object_session
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from engine.models import HumanTask

from .models import Case, User
from .programs import PROGRAMS
from .roles import AGENCY_ROLES, ROLES
from .substitutes import absentees_query, stands_in_for

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


def is_agency_staff(user: User) -> bool:
    return user.role in AGENCY_ROLES


def agency_unset(user: User) -> bool:
    """Agency staff without an agency see nothing: `HumanTask.agency == None` would otherwise match every task that
    names no agency (street and district work) — fail closed, not open."""
    return is_agency_staff(user) and not user.agency


def led_programs(agency: str | None) -> list[str]:
    """The programs an agency leads (牵头)."""
    return [p.key for p in PROGRAMS.values() if agency and p.lead_agency == agency]


def in_task_scope(user: User, task: HumanTask) -> bool:
    """The task's place is in the user's jurisdiction and, for agency staff, it is their agency's task."""
    if agency_unset(user) or (is_agency_staff(user) and task.agency != user.agency):
        return False
    return in_scope(user, task.district, task.street, task.community)


def task_scope_filter(user: User):
    """`in_task_scope` as a SQL condition on HumanTask."""
    if agency_unset(user):
        return false()
    if is_agency_staff(user):
        return and_(scope_filter(user, HumanTask), HumanTask.agency == user.agency)
    return scope_filter(user, HumanTask)


def can_see_task(user: User, task: HumanTask) -> bool:
    # The checks without a query first: 代理 and 会签 each ask the database, and most tasks are decided before them.
    return (task.assignee == user.username or in_task_scope(user, task) or stands_in(user, task)
            or is_task_signer(user, task))


def is_task_signer(user: User, task: HumanTask) -> bool:
    """会签/加签: a signer of the task sees it wherever it is (workflows.tasks.signers)."""
    from .tasks.signers_model import TaskSigner  # here: workflows.tasks imports this module

    session = object_session(task)
    return session is not None and session.scalar(select(TaskSigner.id).where(
        TaskSigner.task_id == task.id, TaskSigner.username == user.username).limit(1)) is not None


def can_work_task(user: User, task: HumanTask) -> bool:
    """May complete or claim: the task's role (and agency) in the user's jurisdiction, or it is assigned to them."""
    if task.assignee is not None:
        return task.assignee == user.username or stands_in(user, task)
    if task.role is None:
        return False
    return task.role == user.role and in_task_scope(user, task)


def group_tasks_filter(user: User):
    """Tasks of the user's role (and agency) in the user's jurisdiction, claimed or not."""
    return and_(HumanTask.role == user.role, task_scope_filter(user))


def visible_tasks_filter(user: User):
    # Every arm of this OR (and of the inbox's, workflows.tasks.inbox) must be one an index can answer: with one
    # that is not, PostgreSQL reads every open task and filters (0.5 s at 1,000,000 tasks, bench/overdue.py).
    from .tasks.signers_model import signed_task_ids  # here: workflows.tasks imports this module

    # 会签/加签: a task the user is or was a signer of is visible to them.
    return or_(HumanTask.assignee == user.username, listed_in(HumanTask.assignee, absentees_query(user.username)),
               task_scope_filter(user), listed_in(HumanTask.id, signed_task_ids(user.username)))


class listed_in(ColumnElement[bool]):  # noqa: N801 - used like a function, as SQLAlchemy's own constructs are
    """`column IN (subquery)` for a subquery that does not refer to the outer row (who I stand in for, what I
    sign). On PostgreSQL it is `column = ANY(ARRAY(subquery))`: the subquery runs once and the condition can use an
    index even as one arm of an OR, which `IN (subquery)` (a per-row hashed subplan) cannot. Same rows either way:
    the subqueries' columns are NOT NULL."""

    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True  # a condition already: no "= 1" after it where booleans are integers (SQLite)
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("subquery", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, subquery):
        self.column = column
        self.subquery = subquery


@compiles(listed_in)
def _listed_in(element: listed_in, compiler, **kw) -> str:
    return compiler.process(element.column.in_(element.subquery), **kw)


@compiles(listed_in, "postgresql")
def _listed_in_postgresql(element: listed_in, compiler, **kw) -> str:
    return (f"{compiler.process(element.column, **kw)} = "
            f"ANY(ARRAY{compiler.process(element.subquery.scalar_subquery(), **kw)})")


def stands_in(user: User, task: HumanTask) -> bool:
    """代理: the task is assigned to someone the user stands in for right now (workflows.substitutes)."""
    return stands_in_for(object_session(task), user.username, task.assignee)


def can_see_instance(user: User, instance) -> bool:
    """The instance's starter, or anyone whose jurisdiction covers where it runs (agency staff: only instances
    their agency has a task in)."""
    if instance.started_by == user.username:
        return True
    if agency_unset(user) or not in_scope(user, instance.district, instance.street, instance.community):
        return False
    if is_agency_staff(user):
        session = object_session(instance)
        return session is not None and bool(session.scalar(select(exists().where(
            HumanTask.instance_id == instance.id, HumanTask.agency == user.agency))))
    return True


def case_filter(user: User):
    """The cases a user may see, as a SQL condition on Case: the jurisdiction's, and for agency staff only those
    their agency leads or has (had) a task in, or that were handed to one of them by name."""
    place = scope_filter(user, Case)
    if not is_agency_staff(user):
        return place
    if agency_unset(user):
        return false()
    involved = exists().where(HumanTask.instance_id == Case.process_instance_id,
                              or_(HumanTask.agency == user.agency, HumanTask.assignee == user.username))
    return and_(place, or_(Case.program.in_(led_programs(user.agency)), involved))


def can_see_case(user: User, case: Case) -> bool:
    if agency_unset(user) or not in_scope(user, case.district, case.street, case.community):
        return False
    if not is_agency_staff(user) or case.program in led_programs(user.agency):
        return True
    session = object_session(case)
    return session is not None and case.process_instance_id is not None and bool(session.scalar(select(exists().where(
        HumanTask.instance_id == case.process_instance_id,
        or_(HumanTask.agency == user.agency, HumanTask.assignee == user.username)))))


def can_open_case(user: User, street: str, community: str, district: str, program: str | None = None) -> bool:
    """Applications are taken by the street office or lodged by a community worker for the applicant; a program's
    lead agency also takes its own applications (e.g. 区教委 a 助学 application) anywhere in its district."""
    if user.role == "admin":
        return True
    if user.role == "agency_officer":
        return program is not None and program in led_programs(user.agency) and in_scope(user, district, street,
                                                                                         community)
    if user.role not in ("community_worker", "street_clerk"):
        return False
    return in_scope(user, district, street, community)

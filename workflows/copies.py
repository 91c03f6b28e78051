"""抄送 (copies) and the task hand-overs that write them.

"抄送我的" in the inbox lists the cases someone copied to me for information — I follow them, I do not act on
them. A copy is written when:

* someone copies a case explicitly from a task (``copy_case``): recipients must be able to see the case;
* a task is handed over (转办 / 委派, ``workflows.tasks.handover``): the person who handed it over gets a copy, so the case stays
  on their radar after it leaves their 待办 (a delegator remains answerable for what the delegate does);
* a deadline escalates (超期督办): the deadline sweep records an escalation to a *role* in the task's
  jurisdiction (``task_deadline_events``); everyone holding that role there sees the case among their copies
  (``copied_cases`` reads those rows, nothing is duplicated). ``record_copy(reason="escalated")`` remains for
  escalations addressed to one person.

Copies are filtered through the reader's jurisdiction when listed, so a copy never shows a case the reader may
not see.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, and_, func, literal, or_, select, union_all, update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.models import AuditEntry, DeadlineEventKind, HumanTask, TaskDeadlineEvent
from engine.runtime import Engine

from . import access
from .audit_actions import CaseAction
from .forms.toolkit import clean_text
from .listener import case_id_of
from .models import Case, CaseCopy, User
from .roles import TASK_ROLES

REASONS = {"copied": "抄送", "transferred": "转办", "delegated": "委派", "escalated": "超期督办"}


def record_copy(session: Session, *, case_id: int, recipient: str, sender: str | None, reason: str,
                now: datetime, task: HumanTask | None = None, note: str | None = None) -> CaseCopy:
    """Add one copy in the caller's transaction."""
    if reason not in REASONS:
        raise ValueError(f"unknown copy reason {reason}")
    row = CaseCopy(case_id=case_id, task_id=task.id if task else None, element_name=task.name if task else None,
                   recipient=recipient, sender=sender, reason=reason, note=note, created_at=now)
    session.add(row)
    return row


def case_readers(session: Session, case: Case, *, exclude: str | None = None) -> list[User]:
    """Active staff (task roles) who may see the case: whom it can be copied to."""
    candidates = session.scalars(
        select(User).where(
            User.active.is_(True), User.role.in_(sorted(TASK_ROLES)),
            or_(User.district.is_(None), User.district == case.district),
            or_(User.street.is_(None), User.street == case.street),
            or_(User.community.is_(None), User.community == case.community),
        ).order_by(User.role, User.username)
    ).all()
    return [u for u in candidates if u.username != exclude and access.can_see_case(u, case)]


def copy_case(session: Session, engine: Engine, *, user: User, task: HumanTask, recipients: list[str],
              note: str | None) -> list[CaseCopy]:
    """Copy the task's case to colleagues who may see it; one audit entry in the case history."""
    case_id = case_id_of(task.business_key)
    case = session.get(Case, case_id) if case_id else None
    if case is None:
        raise InvalidInput("该任务不属于任何案件，无法抄送", {"to": ["无案件可抄送"]})
    names = [n.strip() for n in recipients if n and n.strip()]
    if not names:
        raise InvalidInput("请选择抄送人", {"to": ["请选择至少一位抄送人"]})
    allowed = {u.username: u for u in case_readers(session, case, exclude=user.username)}
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InvalidInput("抄送人须为能查看该案件的同事", {"to": [f"不能抄送给：{'、'.join(unknown)}"]})
    note = clean_text(note, "note", "说明")
    now = engine.now()
    rows = [record_copy(session, case_id=case.id, recipient=n, sender=user.username, reason="copied", now=now,
                        task=task, note=note) for n in dict.fromkeys(names)]
    session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=user.username,
                           action=CaseAction.CASE_COPIED, element_id=task.element_id, element_name=task.name, opinion=note,
                           detail={"to": list(dict.fromkeys(names))}))
    engine.emit(session, "case.copied", {"case_id": case.id, "task_id": task.id, "from": user.username,
                                         "to": list(dict.fromkeys(names))}, now=now)
    session.commit()
    return rows


def copied_cases(user: User):
    """A subquery of what was copied to `user`: (case_id, at, sender, reason, note, read_at, step).

    Explicit copies and hand-overs from ``case_copies``, plus escalations of tasks in the user's jurisdiction to the
    user's role (read from the deadline sweep's events; they count as read). The caller joins cases and applies
    the case scope.
    """
    parts = [select(CaseCopy.case_id.label("case_id"), CaseCopy.created_at.label("at"),
                    CaseCopy.sender.label("sender"), CaseCopy.reason.label("reason"), CaseCopy.note.label("note"),
                    CaseCopy.read_at.label("read_at"), CaseCopy.element_name.label("step"))
             .where(CaseCopy.recipient == user.username)]
    parts.append(
        select(Case.id, TaskDeadlineEvent.at, literal(None, String), literal("escalated", String),
               TaskDeadlineEvent.message, TaskDeadlineEvent.at, HumanTask.name)
        .join(HumanTask, HumanTask.id == TaskDeadlineEvent.task_id)
        .join(Case, Case.process_instance_id == HumanTask.instance_id)
        .where(TaskDeadlineEvent.kind == DeadlineEventKind.ESCALATED, TaskDeadlineEvent.target_role == user.role,
               access.task_scope_filter(user))
    )
    return union_all(*parts).subquery("copied")


def unread_count(session: Session, user: User) -> int:
    return session.scalar(
        select(func.count()).select_from(CaseCopy).join(Case, Case.id == CaseCopy.case_id)
        .where(and_(CaseCopy.recipient == user.username, CaseCopy.read_at.is_(None),
                    access.case_filter(user)))
    ) or 0


def mark_read(session: Session, user: User, case_id: int, now: datetime) -> None:
    session.execute(
        update(CaseCopy).where(CaseCopy.recipient == user.username, CaseCopy.case_id == case_id,
                               CaseCopy.read_at.is_(None)).values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()

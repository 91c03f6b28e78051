"""Approval operations besides completing a task: 委派 that comes back, 拿回, 撤回, 终止 and 已阅.

Written once for the staff pages and the REST API (``TaskService`` calls the task ones, ``CaseOperations`` holds
the case and instance ones). Each writes one history entry and one outbox event in the transaction that does it.

Rules:
* **委派 comes back** — a delegated task (``HumanTask.delegated_by``) completed by the delegate does not finish the
  step: the task returns to the delegator with the delegate's answer kept in the history (and offered as the form's
  starting values); the delegator completes it for real.
* **拿回** — whoever completed a task may take it back while the tasks that completion created are all still open
  and unopened: nobody claimed them (or had them handed over), saved a draft, commented or uploaded on them. The
  flow returns to the taker's step (``engine.returns``) and the re-opened task is theirs.
* **撤回** — the person who lodged the case, or a street clerk of its street, withdraws it with a reason before the
  decision: while the case is in progress, no aid has been entered in the aid register for it and no deciding task
  (``DECIDING_ROLES`` or an element named ``approval`` / ``…_decision`` / ``decide`` / ``emergency_grant``) has
  been completed. The instance is cancelled, open tasks with it.
* **终止** — an admin or a district approver (who may see the instance) ends a running instance with a reason;
  a case becomes ``closed`` (已终止). A complaint's or a review's instance is refused (``OWN_FLOWS``): only its
  own flow closes the Complaint / Review row.
* **已阅** — marks the copies (抄送) of a case to the reader as read, once.
"""
from __future__ import annotations

import json
import re
from typing import cast
from uuid import UUID

from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import CursorResult, delete, exists, func, select, update
from sqlalchemy.orm import Session

from engine.audit import AuditAction
from engine.errors import Conflict, Forbidden, NotFound
from engine.instance_actions import InstanceAction, cancel_instance, lost_race_is_conflict
from engine.models import AuditEntry, HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from engine.returns import return_task
from engine.runtime import Engine, StepContext

from .. import access
from ..aid.models import AidRecord
from ..audit_actions import CaseAction
from ..complaints.intake import KEY_PREFIX as COMPLAINT_KEY_PREFIX
from ..forms.toolkit import clean_text
from ..listener import case_id_of
from ..models import Attachment, Case, CaseCopy, CaseStatus, TaskDraft, User
from ..programs import COMPLAINT_PROCESS_KEYS, REGISTER_PROCESS_KEYS
from ..register.reviews import REVIEW_KEY_PREFIX

# Whose completed task is a decision: the district's approval, a 专项 lead agency's 审核决定.
DECIDING_ROLES = {"district_approver", "agency_lead"}
# Elements that decide (…approval, …_decision, decide) or grant aid on the spot (临时救助's 先行救助).
DECISION_ELEMENT = re.compile(r"(^|_)(approval|decision|decide)$|^emergency_grant$")
TERMINATORS = {"admin", "district_approver"}
# Instances that carry a business record of their own (a Complaint, a Review row): only their own flow closes the
# record, so 终止 would leave it open for ever. (business-key prefix, process keys, what it is)
OWN_FLOWS = ((COMPLAINT_KEY_PREFIX, COMPLAINT_PROCESS_KEYS, "投诉举报"),
             (REVIEW_KEY_PREFIX, REGISTER_PROCESS_KEYS, "定期复核"))
TAKE_BACK_REASON = "办理人拿回重新办理"
# What a person does on a task that shows they have started on it (the sweeps' reminders do not count).
OPENING_ACTIONS = [AuditAction.TASK_CLAIMED, AuditAction.TASK_UNCLAIMED, AuditAction.COMMENT,
                   CaseAction.ATTACHMENT_UPLOADED, CaseAction.TASK_TRANSFERRED, CaseAction.TASK_DELEGATED,
                   CaseAction.HOUSEHOLD_UPDATED]


def _json_ready(data: dict) -> dict:
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


# -- 委派 that comes back ----------------------------------------------------------------------------------------
def answer_delegation(session: Session, engine: Engine, *, user: User, task: HumanTask, data: dict,
                      opinion: str | None) -> HumanTask:
    """The delegate's part is done: the task goes back to the delegator, the answer into the history."""
    delegator = task.delegated_by
    now = engine.now()
    try:
        result = cast(CursorResult, session.execute(
            update(HumanTask)
            .where(HumanTask.id == task.id, HumanTask.status == TaskStatus.OPEN,
                   HumanTask.assignee == task.assignee, HumanTask.delegated_by == delegator)
            .values(assignee=delegator, delegated_by=None, claimed_at=now)
            .execution_options(synchronize_session=False)
        ))
        if result.rowcount != 1:
            raise Conflict("该任务已办结或已不在您手中，请刷新后重试")
        session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=user.username,
                               action=CaseAction.TASK_DELEGATION_RETURNED, element_id=task.element_id,
                               element_name=task.name, opinion=opinion,
                               detail={"from": user.username, "to": delegator, "data": _json_ready(data)}))
        engine.emit(session, "task.delegation_returned", {"task_id": task.id, "from": user.username,
                                                          "to": delegator}, now=now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(task)
    return task


def delegation_answer(session: Session, task: HumanTask) -> AuditEntry | None:
    """The latest answer a delegate gave on this (open) task, if the task is back with the delegator."""
    if task.status != TaskStatus.OPEN or task.delegated_by:
        return None
    return session.scalars(
        select(AuditEntry).where(AuditEntry.task_id == task.id, AuditEntry.instance_id == task.instance_id,
                                 AuditEntry.action == CaseAction.TASK_DELEGATION_RETURNED)
        .order_by(AuditEntry.id.desc()).limit(1)
    ).first()


# -- 拿回 ----------------------------------------------------------------------------------------------------------
def _opened(session: Session, task: HumanTask) -> bool:
    """Claimed (or handed to someone), drafted, commented or uploaded on: its handler has started on it."""
    if task.claimed_at is not None:
        return True
    return bool(session.scalar(select(
        exists().where(TaskDraft.task_id == task.id)
        | exists().where(AuditEntry.task_id == task.id, AuditEntry.instance_id == task.instance_id,
                         AuditEntry.action.in_(OPENING_ACTIONS))
        | exists().where(Attachment.task_id == task.id)
    )))


def _descendants(task) -> list:
    out, stack = [], list(task.children)
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(child.children)
    return out


def take_back_targets(session: Session, engine: Engine, user: User, task: HumanTask) -> list[HumanTask]:
    """The open tasks the flow reached from `task` without any other task done on the way, if `user` may take
    `task` back; else why not (Conflict)."""
    if task.status != TaskStatus.COMPLETED or task.completed_by != user.username:
        raise Conflict("只能拿回本人办结的任务")
    instance = session.get(ProcessInstance, task.instance_id)
    if instance is None or instance.status != InstanceStatus.RUNNING:
        raise Conflict("流程已结束，不能拿回")
    # The workflow's task tree says what followed this completion (the projection's timestamps cannot: on a
    # simulated clock many steps share one instant).
    workflow = engine.workflow_of(instance)
    try:
        done = workflow.get_task_from_id(UUID(task.spiff_task_id))
    except (TaskNotFoundException, ValueError):
        done = None
    if done is None or done.state != TaskState.COMPLETED:
        raise Conflict("该环节已被退回或重新办理，不能拿回")
    after = [t for t in _descendants(done) if t.task_spec.manual]
    ready = {str(t.id) for t in after if t.state == TaskState.READY}
    if any(t.state == TaskState.COMPLETED for t in after) or not ready:
        raise Conflict("下一环节已办理或流程已向前推进，不能拿回")
    following = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == task.instance_id, HumanTask.status == TaskStatus.OPEN,
                                HumanTask.spiff_task_id.in_(sorted(ready))).order_by(HumanTask.id)
    ).all()
    if not following:
        raise Conflict("下一环节已办理或流程已向前推进，不能拿回")
    if any(_opened(session, t) for t in following):
        raise Conflict("下一环节的办理人已开始办理，不能拿回")
    return list(following)


def take_back(session: Session, engine: Engine, *, user: User, task: HumanTask, reason=None) -> HumanTask:
    """拿回: the flow returns from the next step(s) to `task`'s step, re-opened on `user`'s desk."""
    reason = clean_text(reason, "reason", "理由") or TAKE_BACK_REASON
    following = take_back_targets(session, engine, user, task)
    ids = [t.id for t in following]

    def still_unopened(ctx: StepContext, _row: HumanTask) -> None:
        # Under the instance lock, and the next tasks' rows locked too: a claim racing us waits for this step and
        # then finds the task cancelled (or, having committed first, makes us refuse here).
        # SKIP LOCKED: a row a claim holds right now counts as opened (waiting for it would deadlock: the claim
        # goes on to need the instance this step holds).
        rows = ctx.session.scalars(
            select(HumanTask).where(HumanTask.id.in_(ids)).with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        if len(rows) != len(ids) or any(r.status != TaskStatus.OPEN for r in rows) \
                or any(_opened(ctx.session, r) for r in rows):
            raise Conflict("下一环节的办理人已开始办理，不能拿回")
        # A conditional write on the same rows: on SQLite (no row locks) it takes the database's write lock, so a
        # claim committed since the read above makes it match fewer rows instead of being overwritten.
        touched = ctx.session.execute(
            update(HumanTask).where(HumanTask.id.in_(ids), HumanTask.status == TaskStatus.OPEN,
                                    HumanTask.claimed_at.is_(None))
            .values(claimed_at=None).execution_options(synchronize_session=False))
        if touched.rowcount != len(ids):
            raise Conflict("下一环节的办理人已开始办理，不能拿回")

    with lost_race_is_conflict():
        reopened = return_task(engine, following[0].id, actor=user.username, to=task.element_id, reason=reason,
                               assign_to=user.username, check=still_unopened,
                               audit_action=CaseAction.TASK_TAKEN_BACK, event="task.taken_back",
                               outcome="taken_back")
    if reopened is None:  # pragma: no cover - the flow always re-opens the target of a return
        raise Conflict("拿回失败，请刷新后重试")
    return reopened


# -- 撤回, 终止, 已阅 ------------------------------------------------------------------------------------------------
def decided(session: Session, instance_id: int, case_id: int) -> bool:
    """Has the case been decided (the rule of 撤回): aid granted for it (any record in the aid register, e.g. 临时救助's
    先行救助 paid before the paperwork) or a deciding task of its instance completed?"""
    if session.scalar(select(exists().where(AidRecord.case_id == case_id))):
        return True
    rows = session.execute(
        select(HumanTask.role, HumanTask.element_id).where(HumanTask.instance_id == instance_id,
                                                           HumanTask.status == TaskStatus.COMPLETED)
    ).all()
    return any(role in DECIDING_ROLES or DECISION_ELEMENT.search(element or "") for role, element in rows)


def own_flow_of(instance: ProcessInstance) -> str | None:
    """The kind of business record an instance runs (投诉举报, 定期复核), if it is one that must end in its flow."""
    for prefix, process_keys, name in OWN_FLOWS:
        if instance.process_key in process_keys or (instance.business_key or "").startswith(prefix):
            return name
    return None


def _drop_drafts(ctx: StepContext) -> None:
    ctx.session.execute(delete(TaskDraft).where(TaskDraft.task_id.in_(
        select(HumanTask.id).where(HumanTask.instance_id == ctx.instance.id, HumanTask.status == TaskStatus.OPEN))))


class CaseOperations:
    def __init__(self, session: Session, engine: Engine, user: User):
        self.session = session
        self.engine = engine
        self.user = user

    def visible_case(self, case_id: int) -> Case:
        case = self.session.get(Case, case_id)
        if case is None or not access.can_see_case(self.user, case):
            raise NotFound("案件不存在")
        return case

    # -- 撤回 --------------------------------------------------------------------------------------------------
    def may_withdraw(self, case: Case) -> bool:
        """The applicant's side: who lodged the case, or a street clerk of its street."""
        if case.created_by == self.user.username:
            return True
        return self.user.role == "street_clerk" and access.in_scope(self.user, case.district, case.street,
                                                                     case.community)

    def can_withdraw(self, case: Case) -> bool:
        return (self.may_withdraw(case) and case.status == CaseStatus.IN_PROGRESS
                and case.process_instance_id is not None and not decided(self.session, case.process_instance_id, case.id))

    def withdraw(self, case_id: int, reason) -> Case:
        case = self.visible_case(case_id)
        if not self.may_withdraw(case):
            raise Forbidden("只有提交申请的人或本街道经办人可以撤回申请")
        reason = clean_text(reason, "reason", "撤回理由", missing="撤回须填写理由")
        if case.status != CaseStatus.IN_PROGRESS or case.process_instance_id is None:
            raise Conflict("案件已办结，不能撤回")

        def prepare(ctx: StepContext) -> None:
            row = ctx.session.get(Case, case.id, populate_existing=True)
            assert row is not None
            if row.status != CaseStatus.IN_PROGRESS or decided(ctx.session, ctx.instance.id, row.id):
                raise Conflict("案件已作出审批决定，不能撤回")
            row.status = row.status.to(CaseStatus.WITHDRAWN)
            row.stage = "已撤回"
            row.decided_at = row.updated_at = ctx.now
            _drop_drafts(ctx)

        cancel_instance(self.engine, case.process_instance_id, actor=self.user.username, reason=reason,
                        action=CaseAction.CASE_WITHDRAWN, event="case.withdrawn", payload={"case_id": case.id},
                        prepare=prepare)
        self.session.expire_all()
        return self.visible_case(case.id)

    # -- 终止 --------------------------------------------------------------------------------------------------
    def visible_instance(self, instance_id: int) -> ProcessInstance:
        instance = self.session.get(ProcessInstance, instance_id)
        if instance is None or not access.can_see_instance(self.user, instance):
            raise NotFound("流程实例不存在")
        return instance

    def can_terminate(self, instance: ProcessInstance | None) -> bool:
        return (instance is not None and self.user.role in TERMINATORS and own_flow_of(instance) is None
                and instance.status in (InstanceStatus.RUNNING, InstanceStatus.ERROR, InstanceStatus.INCIDENT))

    def terminate(self, instance_id: int, reason) -> ProcessInstance:
        instance = self.visible_instance(instance_id)
        if self.user.role not in TERMINATORS:
            raise Forbidden("只有管理员或区审批人可以终止流程")
        kind = own_flow_of(instance)
        if kind is not None:
            raise Conflict(f"{kind}须在其流程中办结，不能终止")
        reason = clean_text(reason, "reason", "终止理由", missing="终止须填写理由")
        case_id = case_id_of(instance.business_key)

        def prepare(ctx: StepContext) -> None:
            case = ctx.session.get(Case, case_id) if case_id is not None else None
            if case is not None and case.process_instance_id == ctx.instance.id \
                    and case.status == CaseStatus.IN_PROGRESS:
                case.status = case.status.to(CaseStatus.CLOSED)
                case.stage = "已终止"
                case.decided_at = case.updated_at = ctx.now
            _drop_drafts(ctx)

        cancel_instance(self.engine, instance.id, actor=self.user.username, reason=reason,
                        action=InstanceAction.PROCESS_TERMINATED, event="process.terminated",
                        payload={"case_id": case_id} if case_id is not None else None, prepare=prepare)
        self.session.expire_all()
        terminated = self.session.get(ProcessInstance, instance.id)
        assert terminated is not None
        return terminated

    # -- 已阅 --------------------------------------------------------------------------------------------------
    def unread_copies(self, case: Case) -> int:
        return self.session.scalar(select(func.count()).select_from(CaseCopy).where(
            CaseCopy.case_id == case.id, CaseCopy.recipient == self.user.username, CaseCopy.read_at.is_(None))) or 0

    def mark_read(self, case_id: int) -> int:
        """Mark the case's copies to me as read; the first time, one 已阅 entry in the history. Returns how many."""
        case = self.visible_case(case_id)
        now = self.engine.now()
        try:
            result = cast(CursorResult, self.session.execute(
                update(CaseCopy).where(CaseCopy.recipient == self.user.username, CaseCopy.case_id == case.id,
                                       CaseCopy.read_at.is_(None)).values(read_at=now)
                .execution_options(synchronize_session=False)
            ))
            marked = result.rowcount or 0
            if marked:
                if case.process_instance_id is not None:
                    self.session.add(AuditEntry(instance_id=case.process_instance_id, at=now,
                                                actor=self.user.username, action=CaseAction.COPY_READ,
                                                detail={"copies": marked}))
                self.engine.emit(self.session, "case.copy_read", {"case_id": case.id, "reader": self.user.username,
                                                                  "copies": marked}, now=now)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return marked


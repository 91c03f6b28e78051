"""The task service: every action on a human task, written once for the staff pages and the REST API.

A view builds ``TaskService(session, engine, user)``, calls one method and renders the answer; authorisation,
validation and the engine step are all here. Errors are the engine's (`NotFound`, `Conflict`, `Forbidden`,
`InvalidInput` with per-field Chinese messages), which the API turns into its error shape and the page shows next
to the field.

Who may do what:
* **see** a task: the assignee, or anyone whose jurisdiction covers it — another jurisdiction's task answers
  exactly like a missing one (its existence is not disclosed);
* **work** it (complete, return, hand over, drafts, upload): it is open and, if claimed, claimed by the user, and
  the user holds its role in its jurisdiction (``workflows.access.can_work_task``);
* **comment** on and **copy** a task the user may see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import AuditEntry, HumanTask, TaskStatus
from engine.returns import ReturnTarget, return_targets
from engine.runtime import Engine

from .. import access, messages
from .. import attachments as attachment_store
from ..copies import copy_case
from ..forms import FORMS, FormError, designed_store, json_schema, validate_form
from ..forms.toolkit import clean_text
from ..listener import case_id_of
from ..models import Attachment, Case, CaseCopy, TaskDraft, User
from . import drafts, operations, signers
from .handover import hand_over
from .household import HOUSEHOLD_FORMS, household_writer, validate_members
from .returns import send_back


@dataclass
class Completion:
    """What completing a task did: the task (now completed) and the tasks the step put on desks next."""

    task: HumanTask
    next_tasks: list[HumanTask] = field(default_factory=list)
    # 委派: the delegate's completion sent the task back to this delegator instead of finishing the step.
    returned_to: str | None = None
    # 后加签: the answer is recorded and the task stays open until the after-signers agreed.
    awaiting_signers: bool = False


@dataclass
class Returned:
    returned: HumanTask
    reopened: HumanTask | None


def _with_step_check(form_key: str, cleaned: dict, prepare):
    """A form may check the answer against the task's own data (``step_check(task_data, cleaned)``, e.g. every flag
    of the street review decided): it runs inside the completing step, so a refusal rolls the step back."""
    check = getattr(FORMS[form_key].schema, "step_check", None)
    if check is None:
        return prepare

    def run(ctx, workflow, spiff_task) -> None:
        errors = check(spiff_task.data, cleaned)
        if errors:
            raise InvalidInput("表单填写有误", errors)
        if prepare is not None:
            prepare(ctx, workflow, spiff_task)

    return run


class TaskService:
    def __init__(self, session: Session, engine: Engine, user: User):
        self.session = session
        self.engine = engine
        self.user = user

    # -- reading -------------------------------------------------------------------------------------------------
    def visible(self, task_id: int) -> HumanTask:
        task = self.session.get(HumanTask, task_id)
        if task is None or not access.can_see_task(self.user, task):
            raise NotFound("任务不存在或您无权查看")
        return task

    def workable(self, task_id: int) -> HumanTask:
        """The task if the user may act on it now; else why not (409 closed or taken, 403 not theirs)."""
        task = self.visible(task_id)
        if task.status != TaskStatus.OPEN:
            raise Conflict("该任务已办结")
        if task.assignee and task.assignee != self.user.username and not access.stands_in(self.user, task):
            raise Conflict(f"该任务已由 {task.assignee} 认领")
        if not access.can_work_task(self.user, task):
            raise Forbidden("该任务不属于您的岗位或辖区")
        return task

    def state(self, task: HumanTask) -> str:
        """closed | mine | taken | claimable | readonly — what the user can do with the task right now."""
        if task.status != TaskStatus.OPEN:
            return "closed"
        if task.assignee == self.user.username or (task.assignee and access.stands_in(self.user, task)):
            return "mine"  # 代理: the task of someone the user stands in for is on the user's desk too
        if task.assignee:
            return "taken"
        return "claimable" if access.can_work_task(self.user, task) else "readonly"

    @staticmethod
    def form_key(task: HumanTask) -> str:
        # A task whose form is unknown (a diagram from elsewhere) falls back to the generic approve/reject form.
        return task.form_key if task.form_key in FORMS else "generic"

    def form_schema(self, task: HumanTask) -> dict:
        designed = designed_store.form_for_task(self.session, task)
        if designed is not None:  # a designed (form-js) form: the version the task's definition pinned
            return designed_store.json_schema_for(designed)
        return json_schema(self.form_key(task))

    def case_of(self, task: HumanTask) -> Case | None:
        case_id = case_id_of(task.business_key)
        case = self.session.get(Case, case_id) if case_id else None
        return case if case is not None and access.can_see_case(self.user, case) else None

    def edits_household(self, task: HumanTask) -> bool:
        # A delegate answers the form only: the household table is corrected by the delegator (委派 comes back).
        return self.form_key(task) in HOUSEHOLD_FORMS and self.case_of(task) is not None and not task.delegated_by

    def return_targets(self, task: HumanTask) -> list[ReturnTarget]:
        if task.status != TaskStatus.OPEN:
            return []
        return return_targets(self.engine, task.id)

    # -- claiming ------------------------------------------------------------------------------------------------
    def claim(self, task_id: int) -> HumanTask:
        task = self.workable(task_id)
        if task.assignee == self.user.username:
            return task
        return self.engine.claim(task.id, self.user.username)

    def unclaim(self, task_id: int) -> HumanTask:
        task = self.visible(task_id)
        if task.delegated_by and self.user.role != "admin":
            raise Conflict("委派的任务请办理后交还委派人，不能取消认领")
        return self.engine.unclaim(task.id, self.user.username, force=self.user.role == "admin")

    # -- completing ----------------------------------------------------------------------------------------------
    def complete(self, task_id: int, data, *, members=None) -> Completion:
        """Validate the form (and, on 受理/入户调查, the corrected household) and complete the task in one step.

        `members` is the household table (None: unchanged). All field errors come back together as one
        `InvalidInput`; nothing is written unless the whole step commits.
        """
        task = self.workable(task_id)
        if not isinstance(data, dict):
            raise InvalidInput("表单填写有误", {"data": [messages.FORM_NOT_OBJECT]})
        errors: dict[str, list[str]] = {}
        cleaned: dict = {}
        try:
            designed = designed_store.form_for_task(self.session, task)
            cleaned = validate_form(self.form_key(task), data) if designed is None else \
                designed_store.validate_with(designed, data, self.engine.now())
        except FormError as exc:
            errors.update(exc.fields)
        prepare = None
        if members is not None:
            case = self.case_of(task)
            if case is None or self.form_key(task) not in HOUSEHOLD_FORMS:
                errors["members"] = ["该环节不能修改家庭成员"]
            else:
                checked, member_errors = validate_members(members, case.household.get("members") or [])
                errors.update(member_errors)
                prepare = household_writer(case.id, task, checked)
        if task.delegated_by:
            # 委派: the delegate's answer goes back to the delegator, who completes the step for real.
            if members is not None:
                errors["members"] = ["委派办理时不能修改家庭成员，请在意见中说明"]
            if errors:
                raise InvalidInput("表单填写有误", errors)
            opinion = cleaned.get("opinion")
            task = operations.answer_delegation(self.session, self.engine, user=self.user, task=task, data=cleaned,
                                                opinion=opinion if isinstance(opinion, str) else None)
            return Completion(task, [], returned_to=task.assignee)
        if errors:
            raise InvalidInput("表单填写有误", errors)
        prepare = _with_step_check(self.form_key(task), cleaned, prepare)
        # 会签/加签 (workflows.tasks.signers): refused while signers are pending; 后加签 records the answer instead.
        record_only, sign_data = signers.completion_plan(self.session, task)
        if record_only:
            opinion = cleaned.get("opinion")
            task = signers.SignerOperations(self.session, self.engine, self.user).record_answer(
                task, cleaned, opinion if isinstance(opinion, str) else None)
            return Completion(task, [], awaiting_signers=True)
        # In place: a form's step check adds to the same dict as the step runs (临时救助's joint vote builds `vote`).
        cleaned.update(sign_data)
        prepare, expect = signers.completion_guard(task, prepare)
        decision = cleaned.get("decision")
        # 代理: completing the task of someone the user stands in for; the history says "代 X 办理".
        on_behalf_of = task.assignee if task.assignee and task.assignee != self.user.username else None
        next_tasks = self.engine.complete_task(task.id, actor=self.user.username, data=cleaned,
                                               opinion=cleaned.get("opinion"),
                                               outcome=decision if isinstance(decision, str) else None,
                                               prepare=prepare, on_behalf_of=on_behalf_of, expect=expect)
        return Completion(task, [t for t in next_tasks if access.can_see_task(self.user, t)])

    def delegation_answer(self, task: HumanTask) -> AuditEntry | None:
        """What the delegate answered on a task that came back to its delegator (None otherwise)."""
        return operations.delegation_answer(self.session, task)

    # -- 会签 / 或签, 加签 / 减签 (workflows.tasks.signers) -----------------------------------------------------------
    def signers_of(self, task: HumanTask) -> list:
        return signers.signers_of(self.session, task.id)

    def sign_turn(self, task: HumanTask):
        """The user's signer row when it is their turn to sign the task (None otherwise)."""
        return signers.my_turn(self.session, task, self.user.username)

    def sign(self, task_id: int, decision, opinion=None) -> HumanTask:
        return signers.SignerOperations(self.session, self.engine, self.user).sign(task_id, decision, opinion)

    def add_signers(self, task_id: int, users, where) -> HumanTask:
        """加签 by whoever may work the task: `where` before | after the holder."""
        task = self.workable(task_id)
        return signers.SignerOperations(self.session, self.engine, self.user).add(task, users, where)

    def remove_signer(self, task_id: int, user) -> HumanTask:
        """减签: a pending signer who has not acted."""
        task = self.workable(task_id)
        return signers.SignerOperations(self.session, self.engine, self.user).remove(task, user)

    # -- 拿回 ------------------------------------------------------------------------------------------------------
    def take_back(self, task_id: int, reason=None) -> HumanTask:
        """拿回 the task I completed while its next step is unopened; answers the re-opened task (mine)."""
        return operations.take_back(self.session, self.engine, user=self.user, task=self.visible(task_id),
                                    reason=reason)

    def can_take_back(self, task: HumanTask) -> bool:
        if task.status != TaskStatus.COMPLETED or task.completed_by != self.user.username:
            return False
        try:
            operations.take_back_targets(self.session, self.engine, self.user, task)
        except Conflict:
            return False
        return True

    # -- returning, handing over, copying, commenting -------------------------------------------------------------
    def send_back(self, task_id: int, to, reason) -> Returned:
        """退回 to an earlier step (`to`: its element id, one of `return_targets`) with a reason."""
        task = self.workable(task_id)
        to = to.strip() if isinstance(to, str) else ""
        if not to:
            raise InvalidInput("请选择退回到哪个环节", {"to": ["请选择退回到哪个环节"]})
        reason = clean_text(reason, "reason", "退回理由", missing="退回须填写理由")
        reopened = send_back(self.session, self.engine, user=self.user, task=task, to=to, reason=reason)
        self.session.expire_all()
        returned = self.session.get(HumanTask, task.id)
        assert returned is not None
        return Returned(returned, reopened)

    def hand_over(self, task_id: int, kind, to, reason=None) -> tuple[HumanTask, User]:
        """转办 (``transferred``) or 委派 (``delegated``) to a colleague with the same role and jurisdiction."""
        task = self.workable(task_id)
        return hand_over(self.session, self.engine, user=self.user, task=task, kind=kind, to=to,
                         reason=reason if isinstance(reason, str) else None)

    def copy(self, task_id: int, recipients, note=None) -> list[CaseCopy]:
        """抄送: copy the task's case to colleagues who may see it."""
        task = self.visible(task_id)
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise InvalidInput("请选择抄送人", {"to": [messages.NOT_LIST]})
        return copy_case(self.session, self.engine, user=self.user, task=task, recipients=recipients,
                         note=note if isinstance(note, str) else None)

    def comment(self, task_id: int, text) -> AuditEntry:
        task = self.visible(task_id)
        text = clean_text(text, "text", "评论", missing="请填写评论内容")
        return self.engine.comment(task.id, self.user.username, text)

    # -- drafts --------------------------------------------------------------------------------------------------
    def draft(self, task_id: int) -> TaskDraft | None:
        return drafts.get_draft(self.session, self.visible(task_id).id)

    def save_draft(self, task_id: int, data) -> TaskDraft:
        task = self.workable(task_id)
        return drafts.save_draft(self.session, task, self.user.username, data, self.engine.now())

    def drop_draft(self, task_id: int) -> None:
        drafts.drop_draft(self.session, self.workable(task_id).id)

    def earlier_submission(self, task: HumanTask) -> dict | None:
        return drafts.earlier_submission(self.session, task)

    # -- attachments ---------------------------------------------------------------------------------------------
    def _case_or_404(self, task: HumanTask) -> Case:
        case = self.case_of(task)
        if case is None:
            raise NotFound("该任务不属于任何案件")
        return case

    def attachments(self, task_id: int) -> list[Attachment]:
        return attachment_store.of_case(self.session, self._case_or_404(self.visible(task_id)).id)

    def attach(self, task_id: int, folder: Path, stream: BinaryIO | None, filename: str | None,
               now: datetime | None = None) -> Attachment:
        task = self.workable(task_id)
        case = self.case_of(task)
        if case is None:
            raise InvalidInput("该任务不属于任何案件，不能上传附件", {"file": ["该任务不属于任何案件"]})
        if stream is None or not filename:
            raise InvalidInput("请选择要上传的文件", {"file": ["请选择要上传的文件"]})
        return attachment_store.attach_to_task(self.session, folder, stream, filename, case=case, task=task,
                                               user=self.user.username, now=now or self.engine.now())

    def attachment(self, task_id: int, attachment_id: int) -> Attachment:
        case = self._case_or_404(self.visible(task_id))
        row = self.session.get(Attachment, attachment_id)
        if row is None or row.case_id != case.id:
            raise NotFound("附件不存在")
        return row

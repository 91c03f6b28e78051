"""会签 / 或签 / 依次签批 on a user task, and 加签 / 减签 by the task's holder — written once for the API and the pages.

**Named by the diagram.** A user task with the properties ``signMode`` (``all`` 会签: every signer must agree, any
rejection decides *rejected* at once; ``any`` 或签: the first decision decides; ``sequence`` 依次: in order, each must
agree) and ``signers`` (a comma list of user names, or ``${var}`` naming a list in the task data) gets one signer row
each when it opens (`SignerListener`; unknown or inactive users are left out — with none left the task is an
ordinary one). Signers see the task and act with ``sign`` (agree, or reject with an opinion). When the rule is met
the BPMN task completes once, with ``{sign_result: agreed|rejected, sign_opinions: [{user, decision, opinion, at}]}``
so a gateway after it can branch; its holder cannot complete it while signers are pending.

**加签.** Whoever may work a task adds up to 10 signers (``where``):

* ``before`` (前加签): they are asked at once; the holder completes only when none is pending. A rejection ends
  that round: the other pending ones are skipped, the task stays with the holder with the rejection in the history
  and on the page, and the holder decides (complete anyway, return, or ask again).
* ``after`` (后加签): the holder's ``complete`` records their answer (history ``task_sign_answer_recorded``) and the
  task stays open for them; when all agreed, the BPMN task completes with the holder's data plus
  ``sign_opinions`` (completed by the holder). A rejection returns the task to the holder: the answer is void, the
  other pending ones are skipped, the holder answers again (an ordinary completion unless they ask again).

**减签** removes a pending signer who has not acted (409 once they have; a 会签 keeps at least one signer).

Every operation is one engine step: the instance row lock (and the task row's, ``FOR UPDATE``) serialises it with
every other action on the task, signer rows change only from ``pending`` (a conditional UPDATE), so two signers
acting at once are both counted once and the BPMN task completes exactly once. Each writes a history entry and an
outbox event.
"""
from __future__ import annotations

import re
from typing import cast
from uuid import UUID

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from engine.audit import AuditAction
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import AuditEntry, HumanTask, TaskStatus
from engine.runtime import Engine, StepContext, ready_spiff_task

from .. import access
from ..forms.toolkit import clean_text
from ..models import User
from .signers_model import SignerAction, SignerStatus, SignMode, SignPhase, TaskSigner

MAX_SIGNERS = 10
DECISIONS = {"agree": SignerStatus.AGREED, "reject": SignerStatus.REJECTED}
PLACES = {"before": SignPhase.BEFORE, "after": SignPhase.AFTER}
VARIABLE = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")
ACTED = (SignerStatus.AGREED, SignerStatus.REJECTED)
MODE_NAMES = {SignMode.ALL: "会签", SignMode.ANY: "或签", SignMode.SEQUENCE: "依次签批"}


def signer_names(value, data) -> list[str]:
    """The `signers` property: `a, b` literally, or `${var}` naming a list (or a comma string) in the task data."""
    text = str(value or "").strip()
    match = VARIABLE.match(text)
    found = data.get(match.group(1)) if match else text
    if isinstance(found, str):
        found = found.replace("，", ",").split(",")
    if not isinstance(found, list | tuple):
        return []
    return list(dict.fromkeys(str(name).strip() for name in found if str(name or "").strip()))


class SignerListener:
    """After each step: a task opened with `signMode` and `signers` gets its signer rows (in the step)."""

    def after_step(self, ctx: StepContext, workflow) -> None:
        for row in ctx.created_tasks:
            spiff_task = workflow.get_task_from_id(UUID(row.spiff_task_id))
            props = (getattr(spiff_task.task_spec, "extensions", None) or {}).get("properties") or {}
            try:
                mode = SignMode(str(props.get("signMode") or "").strip())
            except ValueError:
                continue
            wanted = signer_names(props.get("signers"), spiff_task.data)[:MAX_SIGNERS]
            known = set(ctx.session.scalars(select(User.username).where(User.username.in_(wanted), User.active)))
            names = [n for n in wanted if n in known]
            for position, name in enumerate(names):
                asked = mode != SignMode.SEQUENCE or position == 0
                ctx.session.add(TaskSigner(task_id=row.id, username=name, position=position,
                                           phase=SignPhase.COUNTERSIGN, mode=mode, status=SignerStatus.PENDING,
                                           asked_at=ctx.now if asked else None, created_at=ctx.now))
            if names:
                row.has_signers = True
                ctx.emit("task.sign_requested", {"task_id": row.id, "mode": mode.value, "signers": names})


# -- reading -----------------------------------------------------------------------------------------------------
def signers_of(session: Session, task_id: int) -> list[TaskSigner]:
    return list(session.scalars(select(TaskSigner).where(TaskSigner.task_id == task_id)
                                .order_by(TaskSigner.phase, TaskSigner.position, TaskSigner.id)))


def opinions(rows: list[TaskSigner]) -> list[dict]:
    """What every signer who acted said, in the order they acted."""
    acted = sorted((r for r in rows if r.status in ACTED), key=lambda r: (r.acted_at, r.id))
    return [{"user": r.username, "decision": "agree" if r.status == SignerStatus.AGREED else "reject",
             "opinion": r.opinion, "at": r.acted_at.isoformat() if r.acted_at else None, "phase": r.phase.value}
            for r in acted]


def my_turn(session: Session, task: HumanTask, username: str) -> TaskSigner | None:
    """The user's asked, pending signer row on an open task: it is their turn to sign."""
    if task.status != TaskStatus.OPEN:
        return None
    return session.scalars(select(TaskSigner).where(
        TaskSigner.task_id == task.id, TaskSigner.username == username, TaskSigner.status == SignerStatus.PENDING,
        TaskSigner.asked_at.is_not(None))).first()


def is_signer(session: Session, task: HumanTask, username: str) -> bool:
    return session.scalar(select(TaskSigner.id).where(TaskSigner.task_id == task.id,
                                                      TaskSigner.username == username).limit(1)) is not None


def holder_answer(session: Session, task_id: int) -> AuditEntry | None:
    """The holder's answer waiting for the after-signers (the latest one recorded)."""
    return session.scalars(select(AuditEntry).where(
        AuditEntry.task_id == task_id, AuditEntry.action == SignerAction.SIGN_ANSWER_RECORDED)
        .order_by(AuditEntry.id.desc()).limit(1)).first()


def _pending(rows, phase: SignPhase | None = None, asked: bool | None = None) -> list[TaskSigner]:
    return [r for r in rows if r.status == SignerStatus.PENDING and (phase is None or r.phase == phase)
            and (asked is None or (r.asked_at is not None) == asked)]


def completion_plan(session: Session, task: HumanTask) -> tuple[bool, dict]:
    """Before the holder completes: (record only — after-signers will sign —, data to add). Conflict while the
    task waits for signers."""
    if not task.has_signers:
        return False, {}  # never had a signer: nothing to ask (the completing UPDATE checks it still has none)
    rows = signers_of(session, task.id)
    if _pending(rows, SignPhase.COUNTERSIGN):
        raise Conflict(f"该环节为{MODE_NAMES[_pending(rows, SignPhase.COUNTERSIGN)[0].mode]}，由签批人签批后自动办结")
    if _pending(rows, SignPhase.BEFORE):
        names = "、".join(r.username for r in _pending(rows, SignPhase.BEFORE))
        raise Conflict(f"须等加签人（{names}）签批后才能办理")
    if _pending(rows, SignPhase.AFTER, asked=True):
        raise Conflict("您已提交意见，正在等待后加签人签批")
    extra = {"sign_opinions": opinions(rows)} if any(r.status in ACTED for r in rows) else {}
    return bool(_pending(rows, SignPhase.AFTER, asked=False)), extra


def completion_guard(task: HumanTask, prepare):
    """(prepare, expect) for the holder's completion: a signer added meanwhile (加签 takes the instance lock too)
    makes it refuse. A task that had none is checked by the completing UPDATE itself (`has_signers` still False),
    so the common case costs no query; one that has signers counts the pending ones under the lock."""
    if not task.has_signers:
        return prepare, {"has_signers": False}
    return holder_check(task.id, prepare), None


def holder_check(task_id: int, prepare):
    """The holder's completion re-checks under the lock: a signer added meanwhile makes it refuse."""
    def run(ctx: StepContext, workflow, spiff_task) -> None:
        if ctx.session.scalar(select(func.count()).select_from(TaskSigner).where(
                TaskSigner.task_id == task_id, TaskSigner.status == SignerStatus.PENDING)):
            raise Conflict("该任务刚刚加签，须等加签人签批后才能办理，请刷新后重试")
        if prepare is not None:
            prepare(ctx, workflow, spiff_task)

    return run


# -- the step helpers --------------------------------------------------------------------------------------------
def _locked_open_task(ctx: StepContext, task_id: int) -> HumanTask:
    task = ctx.session.scalars(select(HumanTask).where(HumanTask.id == task_id).with_for_update(of=HumanTask)
                               .execution_options(populate_existing=True)).first()
    if task is None or task.status != TaskStatus.OPEN:
        raise Conflict("该任务已办结或已取消")
    return task


def _rows_in_step(ctx: StepContext, task_id: int) -> list[TaskSigner]:
    return list(ctx.session.scalars(select(TaskSigner).where(TaskSigner.task_id == task_id)
                                    .order_by(TaskSigner.position, TaskSigner.id)
                                    .execution_options(populate_existing=True)))


def _set_status(ctx: StepContext, rows: list[TaskSigner], status: SignerStatus) -> None:
    for row in rows:
        row.status = row.status.to(status)
        row.acted_at = ctx.now


def _complete(ctx: StepContext, workflow, task: HumanTask, *, completed_by: str, data: dict, outcome: str | None,
              opinion: str | None = None) -> None:
    """Complete the BPMN task in this step (the engine's completion, for a task its signers decide)."""
    spiff_task = ready_spiff_task(workflow, task)
    if spiff_task is None:
        raise Conflict("该任务已办结或已不在待办状态")
    task.status = task.status.to(TaskStatus.COMPLETED)
    task.completed_at, task.completed_by, task.outcome, task.data = ctx.now, completed_by, outcome, data
    spiff_task.set_data(**data)
    spiff_task.run()
    ctx.completed_task = task
    ctx.audit(AuditAction.TASK_COMPLETED, task_id=task.id, element_id=task.element_id, element_name=task.name,
              opinion=opinion, detail={"outcome": outcome, "by_signers": True} if outcome else {"by_signers": True})
    ctx.emit("task.completed", {"task_id": task.id, "element_id": task.element_id, "actor": ctx.actor,
                                "outcome": outcome})


def _settle(ctx: StepContext, workflow, task: HumanTask, rows: list[TaskSigner], phase: SignPhase,
            signed: TaskSigner | None = None) -> None:
    """Apply the phase's rule after a signature (`signed`) or a removal: ask the next, end the round, or complete."""
    pending = _pending(rows, phase)
    rejected = signed is not None and signed.status == SignerStatus.REJECTED
    if phase == SignPhase.COUNTERSIGN:
        mode = next(r.mode for r in rows if r.phase == phase)
        if mode == SignMode.ANY and signed is not None:
            result = "agreed" if signed.status == SignerStatus.AGREED else "rejected"
        elif rejected:
            result = "rejected"
        elif not pending:
            result = "agreed"
        else:
            if mode == SignMode.SEQUENCE and not _pending(rows, phase, asked=True):
                pending[0].asked_at = ctx.now  # 依次: the next one's turn
                ctx.emit("task.sign_requested", {"task_id": task.id, "mode": mode.value,
                                                 "signers": [pending[0].username]})
            return
        _set_status(ctx, pending, SignerStatus.SKIPPED)
        _complete(ctx, workflow, task, completed_by=ctx.actor or "system", outcome=result,
                  data={"sign_result": result, "sign_opinions": opinions(rows)})
        return
    if rejected:
        assert signed is not None
        # A rejection ends the round: the task is back with its holder (after: their answer is void).
        _set_status(ctx, pending, SignerStatus.SKIPPED)
        ctx.audit(SignerAction.SIGN_RETURNED, task_id=task.id, element_id=task.element_id, element_name=task.name,
                  opinion=signed.opinion, detail={"from": signed.username, "phase": phase.value})
        ctx.emit("task.sign_returned", {"task_id": task.id, "from": signed.username, "phase": phase.value})
        return
    if phase == SignPhase.AFTER and not pending:  # every after-signer asked on the holder's answer agreed
        answer = holder_answer(ctx.session, task.id)
        if answer is None:  # pragma: no cover - after-signers are asked only by a recorded answer
            raise Conflict("找不到办理人的意见，请刷新后重试")
        data = dict((answer.detail or {}).get("data") or {})
        data["sign_opinions"] = opinions(rows)
        decision = data.get("decision")
        _complete(ctx, workflow, task, completed_by=answer.actor or ctx.actor or "system", data=data,
                  outcome=decision if isinstance(decision, str) else None, opinion=answer.opinion)


# -- the operations ----------------------------------------------------------------------------------------------
class SignerOperations:
    def __init__(self, session: Session, engine: Engine, user: User):
        self.session = session
        self.engine = engine
        self.user = user

    def _step(self, task: HumanTask, name: str, action) -> HumanTask:
        self.engine.step(task.instance_id, self.user.username, name, action)
        self.session.expire_all()
        fresh = self.session.get(HumanTask, task.id)
        assert fresh is not None
        return fresh

    def _check_users(self, task: HumanTask, users, where) -> tuple[SignPhase, list[str]]:
        errors: dict[str, list[str]] = {}
        phase = PLACES.get(where) if isinstance(where, str) else None
        if phase is None:
            errors["where"] = ["请选择加签方式：before（前加签）或 after（后加签）"]
        names: list[str] = []
        if not isinstance(users, list) or not users or not all(isinstance(u, str) for u in users):
            errors["users"] = ["请选择至少一位加签人"]
        else:
            names = [u.strip() for u in users]
            problems = []
            if len(names) > MAX_SIGNERS:
                problems.append(f"加签人不能超过 {MAX_SIGNERS} 位")
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                problems.append(f"加签人重复：{'、'.join(dupes)}")
            if self.user.username in names:
                problems.append("不能加签给自己")
            known = set(self.session.scalars(select(User.username).where(User.username.in_(names), User.active)))
            unknown = [n for n in dict.fromkeys(names) if n not in known]
            if unknown:
                problems.append(f"用户不存在或已停用：{'、'.join(unknown)}")
            rows = signers_of(self.session, task.id)
            already = [r.username for r in rows if r.username in names and r.status == SignerStatus.PENDING]
            if already:
                problems.append(f"已是本任务待签批的加签人：{'、'.join(dict.fromkeys(already))}")
            live = {r.username for r in rows if r.status == SignerStatus.PENDING}
            if len(live | set(names)) > MAX_SIGNERS:
                problems.append(f"一个任务的待签批人不能超过 {MAX_SIGNERS} 位")
            if problems:
                errors["users"] = problems
        if errors:
            raise InvalidInput("加签填写有误", errors)
        assert phase is not None
        return phase, list(dict.fromkeys(names))

    def add(self, task: HumanTask, users, where) -> HumanTask:
        """加签: `task` is one the user may work (the service checked)."""
        phase, names = self._check_users(task, users, where)
        rows = signers_of(self.session, task.id)
        if any(r.phase == SignPhase.COUNTERSIGN for r in rows):
            raise Conflict("会签/或签环节由流程指定签批人，不能加签")
        if _pending(rows, SignPhase.AFTER, asked=True):
            raise Conflict("正在等待后加签人签批，暂不能加签")

        def action(ctx: StepContext, _workflow) -> None:
            _locked_open_task(ctx, task.id).has_signers = True
            existing = {(r.username, r.phase): r for r in _rows_in_step(ctx, task.id)}
            if any(r.status == SignerStatus.PENDING and r.username in names for r in existing.values()):
                raise Conflict("加签人已在待签批名单中，请刷新后重试")
            position = max((r.position for r in existing.values() if r.phase == phase), default=-1)
            for name in names:
                position += 1
                asked = ctx.now if phase == SignPhase.BEFORE else None
                row = existing.get((name, phase))
                if row is None:
                    ctx.session.add(TaskSigner(task_id=task.id, username=name, position=position, phase=phase,
                                               mode=SignMode.ALL, status=SignerStatus.PENDING, asked_at=asked,
                                               added_by=self.user.username, created_at=ctx.now))
                else:  # asked again after an earlier round: the same row (one per task, user and phase)
                    row.status = row.status.to(SignerStatus.PENDING)
                    row.position, row.asked_at, row.acted_at, row.opinion = position, asked, None, None
                    row.added_by = self.user.username
            ctx.audit(SignerAction.SIGNERS_ADDED, task_id=task.id, element_id=task.element_id,
                      element_name=task.name, detail={"to": names, "where": phase.value})
            ctx.emit("task.signers_added", {"task_id": task.id, "users": names, "where": phase.value,
                                            "by": self.user.username})

        return self._step(task, "add_signers", action)

    def remove(self, task: HumanTask, username) -> HumanTask:
        """减签: a pending signer who has not acted."""
        name = username.strip() if isinstance(username, str) else ""
        if not name:
            raise InvalidInput("请选择要减签的人", {"user": ["请选择要减签的人"]})
        rows = [r for r in signers_of(self.session, task.id) if r.username == name]
        if not rows:
            raise InvalidInput("该用户不是本任务的签批人", {"user": [f"{name} 不是本任务的签批人"]})
        if not any(r.status == SignerStatus.PENDING for r in rows):
            raise Conflict(f"{name} 已签批或已不在签批名单中，不能减签")

        def action(ctx: StepContext, workflow) -> None:
            locked = _locked_open_task(ctx, task.id)
            all_rows = _rows_in_step(ctx, task.id)
            row = next((r for r in all_rows if r.username == name and r.status == SignerStatus.PENDING), None)
            if row is None:
                raise Conflict(f"{name} 已签批，不能减签")
            if row.phase == SignPhase.COUNTERSIGN and not [
                    r for r in all_rows if r.phase == row.phase and r is not row and r.status in
                    (SignerStatus.PENDING, SignerStatus.AGREED)]:
                raise Conflict("会签/或签环节至少须保留一位签批人")
            ctx.session.execute(update(TaskSigner).where(TaskSigner.id == row.id,
                                                         TaskSigner.status == SignerStatus.PENDING)
                                .values(status=SignerStatus.REMOVED, acted_at=ctx.now)
                                .execution_options(synchronize_session=False))
            was_asked = row.asked_at is not None
            ctx.session.refresh(row)
            ctx.audit(SignerAction.SIGNER_REMOVED, task_id=task.id, element_id=task.element_id,
                      element_name=task.name, detail={"to": name, "phase": row.phase.value})
            ctx.emit("task.signer_removed", {"task_id": task.id, "user": name, "by": self.user.username})
            if row.phase == SignPhase.COUNTERSIGN or (row.phase == SignPhase.AFTER and was_asked):
                _settle(ctx, workflow, locked, all_rows, row.phase)

        return self._step(task, "remove_signer", action)

    def sign(self, task_id: int, decision, opinion) -> HumanTask:
        """签批: the user's decision on a task waiting for their signature."""
        task = self.session.get(HumanTask, task_id)
        if task is None or not access.can_see_task(self.user, task):
            raise NotFound("任务不存在或您无权查看")
        if not is_signer(self.session, task, self.user.username):
            raise Forbidden("您不是该任务的签批人")
        errors: dict[str, list[str]] = {}
        status = DECISIONS.get(decision) if isinstance(decision, str) else None
        if status is None:
            errors["decision"] = ["请选择签批意见：agree（同意）或 reject（不同意）"]
        try:
            text = clean_text(opinion, "opinion", "意见",
                              missing="不同意时须填写意见" if status == SignerStatus.REJECTED else None)
        except InvalidInput as exc:
            errors.update(exc.fields)
            text = None
        if errors:
            raise InvalidInput("签批填写有误", errors)
        if task.status != TaskStatus.OPEN:
            raise Conflict("该任务已办结")
        if my_turn(self.session, task, self.user.username) is None:
            mine = [r for r in signers_of(self.session, task.id) if r.username == self.user.username]
            if any(r.status == SignerStatus.PENDING for r in mine):
                raise Conflict("尚未轮到您签批")
            raise Conflict("您已签批或已被减签")
        assert status is not None

        def action(ctx: StepContext, workflow) -> None:
            locked = _locked_open_task(ctx, task.id)
            # Only from pending: of two racing signatures by the same user one wins; everyone else's count once.
            done = cast(CursorResult, ctx.session.execute(
                update(TaskSigner).where(TaskSigner.task_id == task.id, TaskSigner.username == self.user.username,
                                         TaskSigner.status == SignerStatus.PENDING, TaskSigner.asked_at.is_not(None))
                .values(status=status, opinion=text, acted_at=ctx.now).execution_options(synchronize_session=False)))
            if done.rowcount != 1:
                raise Conflict("您已签批或已被减签")
            rows = _rows_in_step(ctx, task.id)
            row = next(r for r in rows if r.username == self.user.username and r.acted_at == ctx.now
                       and r.status == status)
            ctx.audit(SignerAction.TASK_SIGNED, task_id=task.id, element_id=task.element_id, element_name=task.name,
                      opinion=text, detail={"decision": decision, "phase": row.phase.value})
            ctx.emit("task.signed", {"task_id": task.id, "user": self.user.username, "decision": decision,
                                     "phase": row.phase.value})
            _settle(ctx, workflow, locked, rows, row.phase, signed=row)

        return self._step(task, "sign", action)

    def record_answer(self, task: HumanTask, data: dict, opinion: str | None) -> HumanTask:
        """后加签: the holder's completion is recorded and the after-signers are asked; the task stays open."""
        def action(ctx: StepContext, _workflow) -> None:
            _locked_open_task(ctx, task.id)
            asked = cast(CursorResult, ctx.session.execute(
                update(TaskSigner).where(TaskSigner.task_id == task.id, TaskSigner.phase == SignPhase.AFTER,
                                         TaskSigner.status == SignerStatus.PENDING, TaskSigner.asked_at.is_(None))
                .values(asked_at=ctx.now).execution_options(synchronize_session=False)))
            if not asked.rowcount:
                raise Conflict("后加签人已变化，请刷新后重试")
            ctx.audit(SignerAction.SIGN_ANSWER_RECORDED, task_id=task.id, element_id=task.element_id,
                      element_name=task.name, opinion=opinion, detail={"data": data})
            names = [r.username for r in _rows_in_step(ctx, task.id)
                     if r.phase == SignPhase.AFTER and r.status == SignerStatus.PENDING]
            ctx.emit("task.sign_requested", {"task_id": task.id, "mode": "after", "signers": names})

        return self._step(task, "sign_answer", action)

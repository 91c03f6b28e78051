"""Keeps each case row in step with its process instance (status, stage, amounts, flags)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select

from engine.models import HumanTask, TaskStatus
from engine.runtime import StepContext

from .models import Case, CaseStatus, TaskDraft

CASE_KEY_PREFIX = "case:"

WAITING_STAGES = {
    "economic_check.completed": "等待家庭经济状况核对结果",
    "objection.lodged": "公示中",
}


def keyed_id(prefix: str, business_key: str | None) -> int | None:
    """The id in a business key "<prefix><id>" (e.g. "case:12", "review:3"); None for any other key."""
    if business_key and business_key.startswith(prefix):
        try:
            return int(business_key[len(prefix):])
        except ValueError:
            return None
    return None


def case_business_key(case_id: int) -> str:
    return f"{CASE_KEY_PREFIX}{case_id}"


def case_id_of(business_key: str | None) -> int | None:
    return keyed_id(CASE_KEY_PREFIX, business_key)


def current_data(workflow) -> dict:
    """The freshest task data: the end state once finished, else a task that is waiting or ready."""
    if workflow.is_completed():
        data = dict(workflow.data)
        if workflow.last_task is not None:
            data.update(workflow.last_task.data)
        return data
    for state in (TaskState.READY, TaskState.WAITING):
        task = workflow.get_next_task(state=state)
        if task is not None:
            return task.data
    return dict(workflow.data)


def _money(value) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        return None


class CaseProjection:
    def after_step(self, ctx: StepContext, workflow) -> None:
        case_id = case_id_of(ctx.instance.business_key)
        if case_id is None:
            return
        case = ctx.session.get(Case, case_id)
        # Only the case's own instance may write to it (another instance naming the same key is not it).
        if case is None or case.process_instance_id not in (None, ctx.instance.id):
            return
        data = current_data(workflow)
        case.process_instance_id = ctx.instance.id
        case.updated_at = ctx.now
        case.relatives_filed = bool(data.get("relatives_filed", case.relatives_filed))
        case.objected = bool(data.get("objected", case.objected))
        if "spot_check" in data:
            case.spot_checked = bool(data["spot_check"])
        if data.get("proposed_amount") is not None:
            case.proposed_amount = _money(data["proposed_amount"])
        notice = [w for w in ctx.instance.waiting if w.get("type") == "timer" and w.get("due_at")]
        if notice:
            case.notice_until = datetime.fromisoformat(notice[0]["due_at"])
        if ctx.instance_completed:
            outcome = data.get("outcome")
            if outcome == "approved":
                case.status = case.status.to(CaseStatus.APPROVED)
                case.amount = _money(data.get("amount"))
            elif outcome == "refused":
                case.status = case.status.to(CaseStatus.REFUSED)
                case.refusal_reason = data.get("reason") or data.get("opinion")
            elif outcome == "withdrawn":
                case.status = case.status.to(CaseStatus.WITHDRAWN)
            case.decided_at = ctx.now
            case.stage = {"approved": "已批准", "refused": "不予批准", "withdrawn": "已撤回"}.get(outcome, "已结束")
            return
        case.stage = self._stage(ctx, workflow)

    @staticmethod
    def _stage(ctx: StepContext, workflow) -> str:
        # The projection mirrors the READY user tasks, so the workflow itself says what is on desks now.
        names = list(dict.fromkeys(
            t.task_spec.bpmn_name or t.task_spec.bpmn_id
            for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        ))
        for item in ctx.instance.waiting:
            label = WAITING_STAGES.get(item.get("name") or "")
            if label and label not in names:
                names.append(label)
        return "、".join(names) or "处理中"


class DropFinishedDrafts:
    """A draft (保存草稿) lives as long as its task is open: it goes in the same transaction that closes the task."""

    def after_step(self, ctx: StepContext, workflow) -> None:
        if ctx.completed_task is None and not ctx.closed_task_ids:
            return
        finished = select(HumanTask.id).where(HumanTask.instance_id == ctx.instance.id,
                                              HumanTask.status != TaskStatus.OPEN)
        # Nobody reads the answer: it goes with the step's last statement (one round trip fewer per completion).
        ctx.write_later(delete(TaskDraft).where(TaskDraft.task_id.in_(finished)))

"""Moving running instances to a newer version of their process (SpiffWorkflow's diff utilities).

Semantics, as the designer sees them in the preview:
- Every step an instance is on (ready user tasks, waiting timers and messages, waiting joins) must exist in the
  new version (aligned by element id, or by SpiffWorkflow's structural matching). If one does not, the migration
  of that instance is refused with the element named, and the instance is left as it was.
- Ready and waiting tasks are re-predicted from the new version (`migrate_workflow`'s default reset), so what
  follows them is the new flow. The tasks themselves keep their identity: an open inbox item stays the same item
  (assignee, claim, history) and takes the new version's name, role, form and escalation role.
- `keep_timers` (default): a running timer keeps its due instant (SpiffWorkflow would restart it); otherwise it
  restarts now with the new version's expression. `keep_deadlines` (default): an open task keeps its working-day
  due date and reminder; otherwise they are recomputed from now with the new version's limits.
- One instance is one transaction in the engine's row-locked step: it is fully migrated (state, definition
  version, task projection, an audit entry "migrated", an outbox event) or untouched. A bulk migration is many
  such steps; one refusal or failure never affects the others.

It stays one module (~400 lines) on purpose: the preview and the migration must apply the very same alignment and
refusal rules, and keeping them side by side is what keeps them the same.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from .audit import AuditAction
from .errors import Conflict, EngineError, InvalidInput, NotFound
from .models import HumanTask, InstanceStatus, ProcessDefinition, ProcessInstance, TaskStatus
from .runtime import Engine, StepContext, waiting_of
from .serialization import SERIALIZER

log = logging.getLogger(__name__)

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
MAX_BULK = 5000
# Rounds of engine steps after firing due timers: each round's closing refresh may make one more timer due.
MAX_ENGINE_ROUNDS = 10


class MigrationRefused(Conflict):
    """This instance cannot move to that version (its current step is gone, it has ended, ...)."""

    code = "migration_refused"


@dataclass
class TaskChange:
    element_id: str
    name: str
    state: str  # READY / WAITING / STARTED before migration
    kind: str  # user, timer, message, gateway, other
    action: str  # kept, reset
    new_element_id: str | None = None
    due_before: str | None = None
    due_after: str | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class MigrationResult:
    instance_id: int
    business_key: str | None
    from_version: int | None
    to_version: int
    ok: bool
    reason: str | None = None
    tasks: list[TaskChange] = field(default_factory=list)
    steps_after: list[dict] = field(default_factory=list)
    migrated: bool = False  # True once written (execute); False in a preview

    def as_dict(self) -> dict:
        return {
            "instance_id": self.instance_id, "business_key": self.business_key,
            "from_version": self.from_version, "to_version": self.to_version,
            "ok": self.ok, "reason": self.reason, "migrated": self.migrated,
            "tasks": [t.as_dict() for t in self.tasks], "steps_after": self.steps_after,
        }


# -- the core: one workflow object, in memory ------------------------------------------------------------------

def _name(task) -> str:
    spec = task.task_spec
    return spec.bpmn_name or spec.bpmn_id or spec.name


def _kind(task) -> str:
    spec = task.task_spec
    if getattr(spec, "manual", False):
        return "user"
    definition = getattr(spec, "event_definition", None)
    if definition is not None:
        nested = getattr(definition, "event_definitions", None) or [definition]
        if any(isinstance(d, TimerEventDefinition) for d in nested):
            return "timer"
        return "message"
    if "Gateway" in type(spec).__name__ or "Join" in type(spec).__name__:
        return "gateway"
    return "other"


def _due(task) -> str | None:
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        return value.get("next")
    if isinstance(value, str):
        try:
            return TimerEventDefinition.get_datetime(value).isoformat()
        except (ValueError, TypeError):
            return None
    return None


def _all_tasks(workflow: BpmnWorkflow, state: TaskState) -> list:
    return list(workflow.get_tasks(state=state))


def _visible(task) -> bool:
    # SpiffWorkflow's own bookkeeping specs (Start, End, Root, boundary splits) have no BPMN id.
    return bool(task.task_spec.bpmn_id)


def apply_migration(workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict, *, to_version: int,
                    keep_timers: bool = True) -> tuple[list[TaskChange], str | None]:
    """Migrate `workflow` in place to `spec`; returns what happened to each active task, or a refusal reason.

    On refusal the workflow is left untouched.
    """
    registry = SERIALIZER.registry
    top_diff, sp_diffs = diff_workflow(registry, workflow, spec, subprocess_specs)
    missing = [t for t in top_diff.removed if t.state & ACTIVE and _visible(t)]
    for sp_id, sp_diff in sp_diffs.items():
        subprocess = workflow.subprocesses[sp_id]
        if sp_diff is None:
            missing += [t for t in subprocess.get_tasks(state=ACTIVE) if _visible(t)]
        else:
            missing += [t for t in sp_diff.removed if t.state & ACTIVE and _visible(t)]
    if missing:
        names = "、".join(f"{_name(t)}（{t.task_spec.bpmn_id}）" for t in missing)
        return [], f"当前步骤 {names} 在版本 {to_version} 中已不存在，无法迁移"

    changed_specs = set(top_diff.changed) | {t for d in sp_diffs.values() if d is not None for t in d.changed}
    before = [t for t in _all_tasks(workflow, ACTIVE) if _visible(t)]
    snapshot = {t.id: (t.state, dict(t.internal_data)) for t in before}
    changes: dict[Any, TaskChange] = {}
    for task in before:
        changes[task.id] = TaskChange(
            element_id=task.task_spec.bpmn_id, name=_name(task), state=TaskState.get_name(task.state),
            kind=_kind(task), action="reset", due_before=_due(task),
            note="属性有变化" if task in changed_specs else "",
        )

    workflow.subprocess_specs = subprocess_specs
    migrate_workflow(top_diff, workflow, spec)
    for sp_id, sp_diff in sp_diffs.items():
        if sp_diff is not None:
            subprocess = workflow.subprocesses[sp_id]
            migrate_workflow(sp_diff, subprocess, subprocess_specs[subprocess.spec.name])

    for task_id, (state, internal) in snapshot.items():
        change = changes[task_id]
        task = workflow.get_task_from_id(task_id) if _exists(workflow, task_id) else None
        if task is None:
            change.action = "removed"
            change.note = "已按新版本流程撤销"
            continue
        change.new_element_id = task.task_spec.bpmn_id
        if change.kind == "timer":
            if keep_timers and "event_value" in internal:
                task.internal_data["event_value"] = internal["event_value"]
                change.action = "kept"
                change.note = (change.note + "；" if change.note else "") + "保留原到期时间"
            else:
                change.note = (change.note + "；" if change.note else "") + "按新版本重新计时"
            change.due_after = _due(task)
        elif change.kind == "user":
            change.action = "kept" if task.state == TaskState.READY else "reset"
        else:
            change.action = "kept" if task.state == state else "reset"
    return list(changes.values()), None


def _exists(workflow: BpmnWorkflow, task_id) -> bool:
    if task_id in workflow.tasks:
        return True
    return any(task_id in sp.tasks for sp in workflow.subprocesses.values())


def steps_of(workflow: BpmnWorkflow) -> list[dict]:
    """Where an instance stands: ready user tasks and what it waits for."""
    steps = [{"element_id": t.task_spec.bpmn_id, "name": _name(t), "type": "task"}
             for t in workflow.get_tasks(state=TaskState.READY, manual=True)]
    for item in waiting_of(workflow):
        steps.append({"element_id": item["element_id"], "name": item.get("name") or item["element_id"],
                      "type": item["type"], "due_at": item.get("due_at")})
    return steps


# -- with the database -----------------------------------------------------------------------------------------

def _target(engine: Engine, instance: ProcessInstance, target_version: int) -> ProcessDefinition:
    target = engine.session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == instance.process_key,
                                        ProcessDefinition.version == target_version)
    ).first()
    if target is None:
        raise NotFound(f"流程 {instance.process_key} 没有版本 {target_version}")
    return target


def _precheck(instance: ProcessInstance, target: ProcessDefinition) -> str | None:
    if instance.status != InstanceStatus.RUNNING:
        return "流程实例已结束，无需迁移"
    if instance.definition_id == target.id:
        return f"已在版本 {target.version} 上"
    return None


def preview(engine: Engine, instance_id: int, target_version: int, *, keep_timers: bool = True,
            keep_deadlines: bool = True) -> MigrationResult:
    """What migrating this instance would do; nothing is written."""
    session = engine.session
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("流程实例不存在")
    target = _target(engine, instance, target_version)
    result = MigrationResult(instance.id, instance.business_key, instance.definition.version, target.version,
                             ok=False)
    result.reason = _precheck(instance, target)
    if result.reason:
        return result
    workflow = engine.workflow_of(instance)
    loaded = engine.spec_for(target.id)
    try:
        tasks, reason = apply_migration(workflow, loaded.spec, loaded.subprocess_specs, to_version=target.version,
                                        keep_timers=keep_timers)
    except Exception as exc:  # a preview must answer, whatever the diagram does
        log.warning("migration preview of %s failed", instance_id, exc_info=True)
        result.reason = f"无法预演迁移：{exc.__class__.__name__}: {exc}"
        return result
    result.tasks, result.reason, result.ok = tasks, reason, reason is None
    if result.ok:
        _describe_deadlines(session, instance, result, keep_deadlines, loaded.user_tasks)
        result.steps_after = steps_of(workflow)
    return result


def _describe_deadlines(session, instance: ProcessInstance, result: MigrationResult, keep_deadlines: bool,
                        user_tasks: dict[str, dict]) -> None:
    rows = {r.element_id: r for r in session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN))}
    for change in result.tasks:
        if change.kind != "user" or change.element_id not in rows:
            continue
        row = rows[change.element_id]
        change.due_before = row.due_at.isoformat() if row.due_at else None
        if keep_deadlines:
            change.due_after = change.due_before
            if row.due_at:
                change.note = (change.note + "；" if change.note else "") + "保留原办理期限"
        else:
            info = user_tasks.get(change.new_element_id or change.element_id) or {}
            days = (info.get("properties") or {}).get("dueInWorkingDays")
            change.note = (change.note + "；" if change.note else "") + (
                f"期限按新版本重新计算（{days} 个工作日）" if days else "新版本无办理期限")


def migrate(engine: Engine, instance_id: int, target_version: int, *, actor: str | None,
            keep_timers: bool = True, keep_deadlines: bool = True) -> MigrationResult:
    """Migrate one instance in one row-locked step; MigrationRefused (nothing written) when it cannot."""
    session = engine.session
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("流程实例不存在")
    target = _target(engine, instance, target_version)
    target_id, to_version = target.id, target.version
    loaded = engine.spec_for(target_id)
    outcome: dict[str, MigrationResult] = {}

    def action(ctx: StepContext, workflow: BpmnWorkflow) -> None:
        current = ctx.instance
        from_definition = ctx.session.get(ProcessDefinition, current.definition_id)
        from_version = from_definition.version if from_definition is not None else None
        reason = _precheck(current, target)
        if reason:
            raise MigrationRefused(reason)
        tasks, reason = apply_migration(workflow, loaded.spec, loaded.subprocess_specs, to_version=to_version,
                                        keep_timers=keep_timers)
        if reason:
            raise MigrationRefused(reason)
        current.definition_id = target_id
        current.definition = target
        result = MigrationResult(current.id, current.business_key, from_version, to_version, ok=True,
                                 tasks=tasks, migrated=True)
        _update_projection(engine, ctx, workflow, result, loaded.user_tasks, keep_deadlines)
        _run_due_timers(ctx, workflow, tasks)
        result.steps_after = steps_of(workflow)
        ctx.audit(AuditAction.MIGRATED, detail={
            "from_version": from_version, "to_version": to_version, "keep_timers": keep_timers,
            "keep_deadlines": keep_deadlines,
            "tasks": [{"element_id": t.element_id, "action": t.action, "due_before": t.due_before,
                       "due_after": t.due_after} for t in tasks],
        })
        ctx.emit("process.migrated", {"process_key": current.process_key, "from_version": from_version,
                                      "to_version": to_version})
        outcome["result"] = result

    engine.step(instance_id, actor, "migrate", action)
    return outcome["result"]


def _run_due_timers(ctx: StepContext, workflow: BpmnWorkflow, tasks: list[TaskChange]) -> None:
    """Fire the kept timers that fell due before the migration, in this step.

    SpiffWorkflow leaves such a timer READY but not run after `migrate_workflow` (the closing `refresh_timers` of
    `do_engine_steps` fires it without running it): the instance would wait on nothing, with no next timer, for
    ever. Run the ready engine tasks until none is left, as the timer sweep would have done.
    """
    due = [t for t in tasks if t.kind == "timer" and t.due_after
           and datetime.fromisoformat(t.due_after) <= ctx.now]
    if not due and not _ready_engine_tasks(workflow):
        return
    for change in due:
        ctx.audit(AuditAction.TIMER_FIRED, element_id=change.new_element_id or change.element_id,
                  element_name=change.name, detail={"due_at": change.due_after, "after_migration": True})
    workflow.refresh_timers()
    for _ in range(MAX_ENGINE_ROUNDS):
        workflow.do_engine_steps()
        if not _ready_engine_tasks(workflow):
            break


def _ready_engine_tasks(workflow: BpmnWorkflow) -> list:
    return list(workflow.get_tasks(state=TaskState.READY, manual=False))


def _update_projection(engine: Engine, ctx: StepContext, workflow: BpmnWorkflow, result: MigrationResult,
                       user_tasks: dict[str, dict], keep_deadlines: bool) -> None:
    """Open inbox items follow the new version: name, role, form, escalation; deadlines as the designer chose."""
    rows = list(ctx.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == ctx.instance.id, HumanTask.status == TaskStatus.OPEN)))
    by_element = {c.element_id: c for c in result.tasks}
    for row in rows:
        task = workflow.get_task_from_id(UUID(row.spiff_task_id)) if _exists(
            workflow, UUID(row.spiff_task_id)) else None
        if task is None or task.state != TaskState.READY:
            continue  # withdrawn: the step's own projection sync closes it
        spec = task.task_spec
        props = (getattr(spec, "extensions", None) or {}).get("properties", {}) or {}
        role = props.get("candidateGroups") or getattr(spec, "lane", None)
        change = by_element.get(row.element_id)
        row.element_id = spec.bpmn_id or row.element_id
        row.name = spec.bpmn_name or spec.bpmn_id or row.name
        row.form_key = props.get("formKey")
        row.escalate_to = props.get("escalateTo")
        if role != row.role:
            row.role = role
            row.assignee = None if role else ctx.instance.started_by
            row.claimed_at = None
        if change is not None:
            change.due_before = row.due_at.isoformat() if row.due_at else None
        if not keep_deadlines:
            row.reminded_at = row.escalated_at = None
            row.escalation_level = 0
            engine.set_time_limits(row, props, ctx.now)
        if change is not None:
            change.due_after = row.due_at.isoformat() if row.due_at else None


def select_instances(engine: Engine, process_key: str, *, from_version: int | None = None,
                     element_id: str | None = None, street: str | None = None,
                     instance_ids: Sequence[int] | None = None, limit: int = MAX_BULK) -> list[ProcessInstance]:
    """Running instances of a process matching a filter (version, current step, street, ids)."""
    stmt = (select(ProcessInstance).join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ProcessInstance.process_key == process_key, ProcessInstance.status == InstanceStatus.RUNNING))
    if from_version is not None:
        stmt = stmt.where(ProcessDefinition.version == from_version)
    if street:
        stmt = stmt.where(ProcessInstance.street == street)
    if instance_ids:
        stmt = stmt.where(ProcessInstance.id.in_(list(instance_ids)))
    instances = list(engine.session.scalars(stmt.order_by(ProcessInstance.id).limit(limit + 1)))
    if len(instances) > limit:
        raise InvalidInput(f"一次最多迁移 {limit} 个实例，请缩小筛选范围", {"filter": ["匹配的实例过多"]})
    if element_id:
        instances = [i for i in instances if _stands_on(engine, i, element_id)]
    return instances


def _stands_on(engine: Engine, instance: ProcessInstance, element_id: str) -> bool:
    if any(w.get("element_id") == element_id for w in instance.waiting or []):
        return True
    return engine.session.scalars(
        select(HumanTask.id).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN,
                                   HumanTask.element_id == element_id).limit(1)).first() is not None


def migrate_many(engine: Engine, instance_ids: Iterable[int], target_version: int, *, actor: str | None,
                 keep_timers: bool = True, keep_deadlines: bool = True, progress=None) -> list[MigrationResult]:
    """Migrate each instance in its own transaction; a refusal or failure is reported and touches no other."""
    results = []
    ids = list(instance_ids)
    for number, instance_id in enumerate(ids, 1):
        try:
            results.append(migrate(engine, instance_id, target_version, actor=actor, keep_timers=keep_timers,
                                   keep_deadlines=keep_deadlines))
        except EngineError as exc:
            results.append(_failed(engine, instance_id, target_version, str(exc)))
        except Exception as exc:  # a broken instance must not stop the batch; its step was rolled back
            log.exception("migrating instance %s failed", instance_id)
            results.append(_failed(engine, instance_id, target_version, f"迁移失败，实例未改动：{exc.__class__.__name__}"))
        if progress is not None:
            progress(number, len(ids))
    return results


def _failed(engine: Engine, instance_id: int, target_version: int, reason: str) -> MigrationResult:
    engine.session.rollback()
    instance = engine.session.get(ProcessInstance, instance_id)
    return MigrationResult(
        instance_id, instance.business_key if instance else None,
        instance.definition.version if instance else None, target_version, ok=False, reason=reason)

"""The user-task part of the dialect: lanes and `candidateGroups` name known roles, `formKey` a registered form,
`escalateTo` a role, `dueInWorkingDays` / `remindBeforeWorkingDays` sensible working-day counts.

The user tasks are read from SpiffWorkflow's specs when it could build them, else from the XML, so a designer sees
these problems even when the parser failed.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser

from ..errors import Problem
from .document import NSMAP, BpmnDocument

USER_TASK_PROPERTIES = ("formKey", "candidateGroups", "dueInWorkingDays", "remindBeforeWorkingDays", "escalateTo",
                        "agency")


@dataclass
class UserTaskInfo:
    element_id: str
    name: str
    lane: str | None
    role: str | None
    form_key: str | None
    properties: dict = field(default_factory=dict)



def _user_task_info(element_id: str, name: str | None, lane: str | None, properties: dict) -> UserTaskInfo:
    properties = dict(properties)
    groups = (properties.get("candidateGroups") or "").strip() or None
    form_key = (properties.get("formKey") or "").strip() or None
    return UserTaskInfo(element_id, name or element_id, lane, groups or lane, form_key, properties)


def user_tasks_from_specs(spec: BpmnProcessSpec, subprocess_specs: dict) -> list[UserTaskInfo]:
    found: dict[str, UserTaskInfo] = {}
    for process_spec in [spec, *subprocess_specs.values()]:
        if process_spec is None:
            continue
        for task_spec in process_spec.task_specs.values():
            # A multi-instance task keeps its UserTask as a child spec with the same bpmn_id: list it once.
            if isinstance(task_spec, UserTask) and task_spec.bpmn_id and task_spec.bpmn_id not in found:
                properties = (getattr(task_spec, "extensions", None) or {}).get("properties") or {}
                found[task_spec.bpmn_id] = _user_task_info(
                    task_spec.bpmn_id, task_spec.bpmn_name, task_spec.lane, properties
                )
    return list(found.values())


def user_tasks_from_xml(doc: BpmnDocument, processes: Iterable[etree._Element]) -> list[UserTaskInfo]:
    """The same view read from the XML, for when SpiffWorkflow could not build the spec."""
    found = []
    for process in processes:
        for node in process.iterfind(".//bpmn:userTask", NSMAP):
            try:
                properties = SpiffTaskParser._parse_extensions(node).get("properties") or {}
            except Exception:  # a malformed property is reported by the parser already
                properties = {}
            found.append(_user_task_info(node.get("id") or "", node.get("name"), doc.lane_of(node), properties))
    return found


def _working_days(value: Any) -> int | None:
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _check_user_task(
    task: UserTaskInfo,
    *,
    process_has_lanes: bool,
    roles: Collection[str] | None,
    form_keys: Collection[str] | None,
) -> Iterator[str]:
    props = task.properties
    groups = (props.get("candidateGroups") or "").strip() or None
    if roles is not None:
        if groups is not None and groups not in roles:
            yield f"candidateGroups 中的角色 {groups} 不存在"
        elif groups is None and task.lane is not None and task.lane not in roles:
            yield f"泳道名 {task.lane} 不是已知角色"
        if task.role is None and process_has_lanes:
            yield "流程使用了泳道，但该用户任务不在任何有名称的泳道中，也没有设置 candidateGroups"
        escalate = (props.get("escalateTo") or "").strip()
        if "escalateTo" in props and escalate not in roles:
            yield f"escalateTo 的角色 {escalate or '（空）'} 不存在"
    if form_keys is not None and "formKey" in props and task.form_key not in form_keys:
        yield f"表单 {task.form_key or '（空）'} 不存在"
    elif form_keys is not None and "formKey" not in props and task.role is not None:
        # A task for an agency role lands in an inbox: it must say which registered form its people fill in.
        # (A task without any role goes back to whoever started the instance and may use the free form.)
        yield "缺少表单（formKey）：进入角色待办的用户任务须选择一个已登记的表单"
    if "agency" in props and not str(props.get("agency") or "").strip():
        yield "agency 不能为空：填写成员单位名称（如 区教委），或 ${变量名}"
    due = None
    if "dueInWorkingDays" in props:
        due = _working_days(props["dueInWorkingDays"])
        if due is None or due <= 0:
            yield f"dueInWorkingDays 须为正整数（工作日数），现为 {props['dueInWorkingDays']!r}"
            due = None
    if "remindBeforeWorkingDays" in props:
        remind = _working_days(props["remindBeforeWorkingDays"])
        if remind is None:
            yield f"remindBeforeWorkingDays 须为非负整数，现为 {props['remindBeforeWorkingDays']!r}"
        elif "dueInWorkingDays" not in props:
            yield "设置了 remindBeforeWorkingDays，但没有 dueInWorkingDays"
        elif due is not None and remind >= due:
            yield f"remindBeforeWorkingDays（{remind}）须小于 dueInWorkingDays（{due}）"



def check_user_tasks(
    doc: BpmnDocument,
    tasks: Sequence[UserTaskInfo],
    roles: Collection[str] | None,
    form_keys: Collection[str] | None,
) -> Iterator[Problem]:
    for task in tasks:
        node = doc.by_id.get(task.element_id)
        process = doc.process_of(node) if node is not None else None
        has_lanes = process is not None and process.find(".//bpmn:lane", NSMAP) is not None
        for message in _check_user_task(task, process_has_lanes=has_lanes, roles=roles, form_keys=form_keys):
            yield Problem(task.element_id, message)


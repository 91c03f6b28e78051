"""The user-task part of the dialect: lanes and `candidateGroups` name known roles, `formKey` a registered form,
`escalateTo` a role, `agency` a known agency or a `${variable}` of the task data, `dueInWorkingDays` /
`remindBeforeWorkingDays` sensible working-day counts.

The user tasks are read from SpiffWorkflow's specs when it could build them, else from the XML, so a designer sees
these problems even when the parser failed.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser

from ..errors import Problem
from .document import NSMAP, BpmnDocument

# `${name}`: the agency is read from the task data when the task opens (engine.task_projection), e.g. the case's
# `${lead_agency}` in a step that several programs share.
AGENCY_VARIABLE = re.compile(r"^\$\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}$")

USER_TASK_PROPERTIES = ("formKey", "candidateGroups", "dueInWorkingDays", "remindBeforeWorkingDays", "escalateTo",
                        "agency", "assignee", "signMode", "signers")
# 会签 (all) / 或签 (any) / 依次 (sequence); `signers` a comma list of user names or a `${variable}` of the task data.
SIGN_MODES = ("all", "any", "sequence")
SIGNER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")


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
    agencies: Collection[str] | None = None,
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
    agency = str(props.get("agency") or "").strip()
    if "agency" in props and not agency:
        yield "agency 不能为空：填写成员单位名称（如 区教委），或 ${变量名}"
    elif agency and agencies is not None and agency not in agencies and not AGENCY_VARIABLE.match(agency):
        yield f"agency 的单位 {agency} 不存在：填写已登记的成员单位名称（如 区教委），或 ${{变量名}}"
    yield from _check_signing(props)
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



def _check_signing(props: dict) -> Iterator[str]:
    mode = str(props.get("signMode") or "").strip()
    signers = str(props.get("signers") or "").strip()
    if "signMode" in props and mode not in SIGN_MODES:
        yield f"signMode 须为 all（会签）、any（或签）或 sequence（依次签批），现为 {props['signMode']!r}"
    if mode and not signers:
        yield "设置了 signMode（会签方式），但没有 signers（签批人）"
    if signers and not mode:
        yield "设置了 signers（签批人），但没有 signMode（会签方式）"
    if signers and not AGENCY_VARIABLE.match(signers):
        names = [n.strip() for n in signers.replace("，", ",").split(",")]
        bad = [n for n in names if not SIGNER_NAME.match(n)]
        if bad or not names:
            yield "signers 须为逗号分隔的用户名，或 ${变量名}（任务数据中的用户名列表）"
        elif len(names) > 10:
            yield "signers 最多 10 位签批人"


def check_user_tasks(
    doc: BpmnDocument,
    tasks: Sequence[UserTaskInfo],
    roles: Collection[str] | None,
    form_keys: Collection[str] | None,
    agencies: Collection[str] | None = None,
) -> Iterator[Problem]:
    """`roles`, `form_keys` and `agencies` are the names the domain knows; None skips that check."""
    for task in tasks:
        node = doc.by_id.get(task.element_id)
        process = doc.process_of(node) if node is not None else None
        has_lanes = process is not None and process.find(".//bpmn:lane", NSMAP) is not None
        for message in _check_user_task(task, process_has_lanes=has_lanes, roles=roles, form_keys=form_keys,
                                        agencies=agencies):
            yield Problem(task.element_id, message)


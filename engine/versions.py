"""Versions of a process key: a readable difference between two deployed diagrams.

Compared on the BPMN XML of one process, element by element (by id): what was added, what was removed, and for
elements in both, which properties changed — name, lane (role), our extension properties, conditions, timers,
scripts, gateway defaults, flow ends, documentation. The drawing (DI) is ignored: moving a box is not a change.
"""
from __future__ import annotations

from typing import Any

from lxml import etree

from .definitions import NSMAP, parse_xml_safely
from .lint import FLOW_NODES

TYPE_NAMES = {
    "task": "任务", "userTask": "用户任务", "manualTask": "手工任务", "scriptTask": "脚本任务", "serviceTask": "服务任务",
    "sendTask": "发送任务", "receiveTask": "接收任务", "businessRuleTask": "规则任务", "callActivity": "调用活动",
    "subProcess": "子流程", "transaction": "事务子流程", "adHocSubProcess": "自由子流程",
    "startEvent": "开始事件", "endEvent": "结束事件", "intermediateCatchEvent": "中间捕获事件",
    "intermediateThrowEvent": "中间抛出事件", "boundaryEvent": "边界事件",
    "exclusiveGateway": "排他网关", "inclusiveGateway": "包容网关", "parallelGateway": "并行网关",
    "eventBasedGateway": "事件网关", "complexGateway": "复杂网关", "sequenceFlow": "连线", "lane": "泳道",
}

PROPERTY_NAMES = {
    "type": "元素类型", "name": "名称", "lane": "泳道（角色）", "documentation": "说明",
    "formKey": "表单", "candidateGroups": "办理角色", "dueInWorkingDays": "办理时限（工作日）",
    "remindBeforeWorkingDays": "提前提醒（工作日）", "escalateTo": "超期升级至", "condition": "条件",
    "default": "默认连线", "sourceRef": "起点", "targetRef": "终点", "timeDuration": "定时器时长",
    "timeDate": "定时器时间", "timeCycle": "定时器周期", "script": "脚本", "preScript": "前置脚本",
    "postScript": "后置脚本", "message": "消息", "calledElement": "被调用流程", "attachedToRef": "附着于",
    "cancelActivity": "中断", "calledDecisionId": "决策",
}

_B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_S = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"


def _local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None or not element.text.strip():
        return None
    return element.text.strip()


def _process(root: etree._Element, key: str) -> etree._Element | None:
    for process in root.iterfind("bpmn:process", NSMAP):
        if process.get("id") == key:
            return process
    return None


def describe_elements(xml: bytes | str, key: str) -> dict[str, dict[str, str]]:
    """element id → {property: value} for the flow elements, flows and lanes of process `key`."""
    root = parse_xml_safely(xml.encode("utf-8") if isinstance(xml, str) else xml)
    process = _process(root, key)
    if process is None:
        return {}
    messages = {m.get("id"): m.get("name") or m.get("id") for m in root.iterfind("bpmn:message", NSMAP)}
    lanes: dict[str, str] = {}
    for lane in process.iterfind(".//bpmn:lane", NSMAP):
        for ref in lane.iterfind("bpmn:flowNodeRef", NSMAP):
            if ref.text:
                lanes[ref.text.strip()] = lane.get("name") or lane.get("id") or ""
    found: dict[str, dict[str, str]] = {}
    for element in process.iter():
        kind = _local(element)
        element_id = element.get("id") if isinstance(element.tag, str) else None
        if not element_id or (kind not in FLOW_NODES and kind not in ("sequenceFlow", "lane")):
            continue
        props: dict[str, str] = {"type": TYPE_NAMES.get(kind, kind)}
        for attribute in ("name", "default", "sourceRef", "targetRef", "calledElement", "attachedToRef",
                          "cancelActivity"):
            if element.get(attribute) is not None:
                props[attribute] = element.get(attribute) or ""
        if element_id in lanes:
            props["lane"] = lanes[element_id]
        documentation = _text(element.find("bpmn:documentation", NSMAP))
        if documentation:
            props["documentation"] = documentation
        condition = _text(element.find("bpmn:conditionExpression", NSMAP))
        if condition:
            props["condition"] = condition
        script = _text(element.find("bpmn:script", NSMAP))
        if script:
            props["script"] = script
        extension = element.find("bpmn:extensionElements", NSMAP)
        if extension is not None:
            for prop in extension.iterfind("spiffworkflow:properties/spiffworkflow:property", NSMAP):
                if prop.get("name"):
                    props[prop.get("name") or ""] = prop.get("value") or ""
            for child in extension:
                if isinstance(child.tag, str) and child.tag.startswith(_S) and _local(child) != "properties":
                    value = _text(child)
                    if value:
                        props[_local(child)] = value
        for definition in element.iterfind("bpmn:timerEventDefinition", NSMAP):
            for timer in definition:
                value = _text(timer)
                if value and _local(timer) in ("timeDate", "timeDuration", "timeCycle"):
                    props[_local(timer)] = value
        for definition in element.iterfind("bpmn:messageEventDefinition", NSMAP):
            ref = definition.get("messageRef")
            if ref:
                props["message"] = messages.get(ref, ref)
        found[element_id] = props
    return found


def _label(props: dict[str, str], element_id: str) -> str:
    return props.get("name") or element_id


def diff_versions(old_xml: bytes | str, new_xml: bytes | str, key: str) -> dict:
    """{added, removed, changed} between two versions' diagrams of process `key`, in words a designer reads."""
    old, new = describe_elements(old_xml, key), describe_elements(new_xml, key)
    added = [{"element_id": i, "type": p["type"], "name": _label(p, i),
              "properties": [{"property": k, "label": PROPERTY_NAMES.get(k, k), "value": v}
                             for k, v in p.items() if k != "type"]}
             for i, p in new.items() if i not in old]
    removed = [{"element_id": i, "type": p["type"], "name": _label(p, i)} for i, p in old.items() if i not in new]
    changed = []
    for element_id, before in old.items():
        after = new.get(element_id)
        if after is None or after == before:
            continue
        changes = [{"property": k, "label": PROPERTY_NAMES.get(k, k), "old": before.get(k), "new": after.get(k)}
                   for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        changed.append({"element_id": element_id, "type": after["type"], "name": _label(after, element_id),
                        "changes": changes})
    return {"added": added, "removed": removed, "changed": changed}

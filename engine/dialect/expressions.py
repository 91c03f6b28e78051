"""The expression part of the dialect: timers (quoted ISO 8601 with a zone), scripts, conditions and gateways.

Every Python expression SpiffWorkflow would evaluate is compiled against the sandbox's rules (engine/scripting.py)
at deploy time, so a typo is a problem on its element instead of a failed step months later.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from ..errors import Problem
from ..scripting import check_expression
from .document import NSMAP, BpmnDocument, local_name, owner_id, text_of

_CONDITIONAL_GATEWAYS = {"exclusiveGateway", "inclusiveGateway"}

# Unquoted ISO 8601 values: durations (P7D, PT1H), dates (2025-01-01...), cycles (R3/P1D).
_BARE_ISO = re.compile(r"(R\d*/)?(P[0-9YMWDTHS.,]*\d[0-9YMWDTHS.,]*|\d{4}-\d{2}-\d{2}\S*)(/\S+)?", re.I)
_TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")  # SpiffWorkflow's order of precedence


def _has_zone(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return re.search(r"T.*(Z|[+-]\d{2}(:?\d{2})?)$", value, re.I) is not None


def _iso_problem(kind: str, value: str) -> str | None:
    """Why SpiffWorkflow could not use this ISO 8601 value for a timer of this kind, or None."""
    example = {"timeDate": '"2025-01-01T09:00:00+08:00"', "timeDuration": '"P7D"', "timeCycle": '"R3/P30D"'}[kind]
    try:
        if kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
            dates = [part for part in value.split("/")[1:] if not part.upper().startswith("P")]
            if any(not _has_zone(part) for part in dates):
                return f"timeCycle 中的日期须带时区，如 +08:00：{value}"
            return None
        parsed = TimerEventDefinition.parse_time_or_duration(value)
    except Exception:  # SpiffWorkflow raises bare Exception, ValueError, AttributeError...
        return f"{kind} 的值 {value!r} 不是有效的 ISO 8601 写法，如 {example}"
    if kind == "timeDuration":
        if not isinstance(parsed, dict):
            return f"timeDuration 须为时长，如 {example}"
        if not any(parsed.values()):
            return "timeDuration 的时长不能为零"
        return None
    if not isinstance(parsed, datetime):
        return f"timeDate 须为日期时间，如 {example}"
    if not _has_zone(value):
        return f"timeDate 须带时区，如 \"{value}+08:00\"（否则按服务器时区解释）"
    return None


def _timer_problem(kind: str, text: str | None) -> str | None:
    if text is None or not text.strip():
        return "定时器表达式为空"
    expression = text.strip()
    if _BARE_ISO.fullmatch(expression):
        return '定时器表达式须加引号，如 "P7D"'
    error = check_expression(expression, "eval")
    if error:
        return f"定时器表达式有误：{error}"
    body = ast.parse(expression, mode="eval").body
    if not isinstance(body, ast.Constant):
        return None  # computed from task data at run time, e.g. survey_deadline
    if not isinstance(body.value, str):
        return '定时器表达式须为带引号的 ISO 8601 字符串，如 "P7D"'
    return _iso_problem(kind, body.value)


def check_expressions(doc: BpmnDocument, processes: Sequence[etree._Element]) -> Iterator[Problem]:
    for process in processes:
        yield from _check_timers(process)
        yield from _check_scripts(process)
        yield from _check_flows(doc, process)


def _check_timers(process: etree._Element) -> Iterator[Problem]:
    for definition in process.iterfind(".//bpmn:timerEventDefinition", NSMAP):
        for kind in _TIMER_KINDS:
            element = definition.find(f"bpmn:{kind}", NSMAP)
            if element is not None:
                problem = _timer_problem(kind, element.text)
                if problem:
                    yield Problem(owner_id(definition), problem)
                break  # SpiffWorkflow reads only the first kind present


def _check_scripts(process: etree._Element) -> Iterator[Problem]:
    for task in process.iterfind(".//bpmn:scriptTask", NSMAP):
        script = text_of(task.find("bpmn:script", NSMAP))
        error = "脚本任务没有脚本" if script is None else check_expression(script, "exec")
        if error:
            yield Problem(task.get("id"), f"脚本有误：{error}" if script is not None else error)
    for name, label in (("preScript", "前置脚本"), ("postScript", "后置脚本")):
        for element in process.iterfind(f".//bpmn:extensionElements/spiffworkflow:{name}", NSMAP):
            script = text_of(element)
            error = check_expression(script, "exec") if script is not None else None
            if error:
                yield Problem(owner_id(element), f"{label}有误：{error}")
    # Other Python expressions SpiffWorkflow evaluates: loop and multi-instance settings, conditional events,
    # message payloads.
    for path, label in (
        (".//bpmn:loopCondition", "循环条件"),
        (".//bpmn:completionCondition", "完成条件"),
        (".//bpmn:loopCardinality", "实例数"),
        (".//bpmn:conditionalEventDefinition/bpmn:condition", "条件事件的条件"),
        (".//spiffworkflow:messagePayload", "消息内容表达式"),
    ):
        for element in process.iterfind(path, NSMAP):
            expression = text_of(element)
            error = check_expression(expression, "eval") if expression is not None else None
            if error:
                yield Problem(owner_id(element), f"{label}有误：{error}")


def _check_flows(doc: BpmnDocument, process: etree._Element) -> Iterator[Problem]:
    for flow in process.iterfind(".//bpmn:sequenceFlow", NSMAP):
        condition = text_of(flow.find("bpmn:conditionExpression", NSMAP))
        if condition is None:
            continue
        error = check_expression(condition, "eval")
        if error:
            yield Problem(flow.get("id"), f"条件表达式有误：{error}")
        source = doc.by_id.get(flow.get("sourceRef") or "")
        if source is not None and local_name(source) not in _CONDITIONAL_GATEWAYS:
            yield Problem(flow.get("id"), "只有排他网关或包容网关出口连线上的条件才会生效，请改用网关分支")
    for gateway in process.iterfind(".//bpmn:exclusiveGateway", NSMAP):
        outgoing = doc.outgoing.get(gateway.get("id") or "", [])
        if len(outgoing) <= 1:
            continue
        default = gateway.get("default")
        flow_ids = {flow.get("id") for flow in outgoing}
        conditional = [f for f in outgoing if text_of(f.find("bpmn:conditionExpression", NSMAP)) is not None]
        if default is None and conditional:
            yield Problem(
                gateway.get("id"),
                "排他网关有带条件的出口连线但没有默认连线：条件都不满足时流程会停在出错状态，请设一条默认连线",
            )
        elif default is not None and default not in flow_ids:
            yield Problem(gateway.get("id"), f"默认连线 {default} 不是该网关的出口")

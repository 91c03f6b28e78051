"""Compiling and validating uploaded diagrams (DESIGN decision 7 and "Process authoring dialect").

An upload goes through three gates, each answering with `InvalidDefinition` and a list of problems:
1. `parse_xml_safely`: size limit, UTF-8, no DOCTYPE/entities, well-formed XML, the right root element;
2. SpiffWorkflow's parser, whose exceptions are translated into problems anchored to an element;
3. our dialect checks (roles, form keys, deadlines, timers, scripts, conditions, gateways), which collect every
   problem instead of stopping at the first, and run even when the parser failed so a designer sees them all.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser

from .errors import InvalidDefinition, Problem
from .lint import UNREACHABLE_MESSAGE, ids_within, run_bpmnlint, unreachable_elements
from .scripting import check_expression

MAX_BPMN_BYTES = 5 * 1024 * 1024

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
DMN_NAMESPACES = frozenset(DMN_SCHEMAS) | {"http://www.omg.org/spec/DMN/20151101/dmn.xsd"}

# Containers whose children are flow elements; a task inside an embedded subprocess inherits its lane.
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
_EMBEDDED = _CONTAINERS - {"process"}
_CONDITIONAL_GATEWAYS = {"exclusiveGateway", "inclusiveGateway"}

USER_TASK_PROPERTIES = ("formKey", "candidateGroups", "dueInWorkingDays", "remindBeforeWorkingDays", "escalateTo")


@dataclass
class UserTaskInfo:
    element_id: str
    name: str
    lane: str | None
    role: str | None
    form_key: str | None
    properties: dict = field(default_factory=dict)


@dataclass
class CompiledDefinition:
    process_key: str
    name: str
    spec: BpmnProcessSpec
    subprocess_specs: dict
    user_tasks: list[UserTaskInfo]
    # Findings that do not stop a deploy (bpmnlint "warn" rules, a non-executable process deployed anyway).
    warnings: list[Problem] = field(default_factory=list)


def _refuse(message: str, element_id: str | None = None) -> InvalidDefinition:
    return InvalidDefinition([Problem(element_id, message)])


def _local(element: Any) -> str:
    # Comments and processing instructions have a function as tag.
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


# -- 1. the XML itself -------------------------------------------------------------------------------------------

def parse_xml_safely(
    data: bytes, *, max_bytes: int = MAX_BPMN_BYTES, kind: Literal["bpmn", "dmn"] = "bpmn"
) -> etree._Element:
    """The root element of a BPMN (or DMN) upload, or InvalidDefinition. Entities are never expanded."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise _refuse(f"文件过大：{len(data)} 字节，上限为 {max_bytes // (1024 * 1024)} MB")
    if not data.strip():
        raise _refuse("文件为空")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"文件不是 UTF-8 编码（第 {exc.start} 字节处无法解码），请以 UTF-8 保存") from None
    # A DOCTYPE is where entity bombs and external entities live; BPMN never needs one. Refusing on sight costs
    # nothing and means libxml2 never even sees the declarations.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _refuse("不接受含 DOCTYPE/实体声明的 XML")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False,
        encoding="utf-8",  # checked above; overrides a stale encoding="ISO-8859-1" declaration
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _refuse(f"不是格式正确的 XML：{exc.msg}") from None
    except (etree.LxmlError, ValueError) as exc:
        raise _refuse(f"不是格式正确的 XML：{exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _refuse("不接受含 DOCTYPE/实体声明的 XML")
    if kind == "bpmn" and root.tag != f"{{{BPMN_NS}}}definitions":
        raise _refuse(f"不是 BPMN 2.0 文件：根元素应为 bpmn:definitions（{BPMN_NS}），实际为 {root.tag}")
    if kind == "dmn" and (_local(root) != "definitions" or etree.QName(root).namespace not in DMN_NAMESPACES):
        raise _refuse(f"不是 DMN 文件：根元素为 {root.tag}")
    return root


# -- which process -----------------------------------------------------------------------------------------------

def _choose_process(root: etree._Element, process_key: str | None) -> etree._Element:
    processes = root.findall(f"{{{BPMN_NS}}}process")
    ids = "、".join(p.get("id") or "?" for p in processes)
    if process_key is not None:
        for process in processes:
            if process.get("id") == process_key:
                return process
        raise _refuse(f"文件中没有 id 为 {process_key} 的流程" + (f"（现有：{ids}）" if ids else ""))
    if not processes:
        raise _refuse("文件中没有流程（bpmn:process）")
    if len(processes) == 1:
        return processes[0]
    # A process that another one calls is a helper, not what the designer means to deploy.
    called = {call.get("calledElement") for call in root.iterfind(".//bpmn:callActivity", NSMAP)}
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    # SpiffWorkflow treats a missing isExecutable as executable.
    unmarked = [p for p in processes if p.get("isExecutable") is None]
    for candidates in (executable, unmarked):
        if len(candidates) == 1:
            return candidates[0]
        roots = [p for p in candidates if p.get("id") not in called]
        if len(roots) == 1:
            return roots[0]
        if candidates:
            names = "、".join(p.get("id") or "?" for p in (roots or candidates))
            raise _refuse(f"文件中有多个可执行的流程（{names}），请指定要部署哪一个（process 参数）")
    # Every process says isExecutable="false" — most modelers write that by default. One obvious main process
    # (the only one no other calls) is deployed anyway, with a warning; several pools need the designer to choose.
    roots = [p for p in processes if p.get("id") not in called]
    if len(roots) == 1:
        return roots[0]
    names = "、".join(p.get("id") or "?" for p in (roots or processes))
    raise _refuse(f"文件中有多个流程（{names}），且都未标记为可执行（isExecutable=\"true\"）："
                  "请指定要部署哪一个（process 参数），或只把要部署的流程标记为可执行")


def choose_process(root: etree._Element, process_key: str | None) -> etree._Element:
    """The process of a document that a deploy of it would take (InvalidDefinition when that is unclear)."""
    return _choose_process(root, process_key)


def _make_executable(processes: Sequence[etree._Element]) -> list[Problem]:
    """Mark non-executable processes executable for SpiffWorkflow, saying so (the stored XML is unchanged)."""
    warnings = []
    for process in processes:
        if process.get("isExecutable") == "false":
            process.set("isExecutable", "true")
            warnings.append(Problem(process.get("id"), "流程标记为不可执行（isExecutable=\"false\"，多为建模工具的默认值），"
                                                        "已按可执行流程编译"))
    return warnings


class _Document:
    """Indexes of one BPMN document, shared by the checks."""

    def __init__(self, root: etree._Element):
        self.root = root
        self.by_id: dict[str, etree._Element] = {}
        for element in root.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id:
                self.by_id.setdefault(element_id, element)
        self.processes = {p.get("id"): p for p in root.findall(f"{{{BPMN_NS}}}process")}
        # Exactly SpiffWorkflow's lane index: the raw text of every flowNodeRef, document-wide.
        self.lanes = {
            ref.text: ref.getparent().get("name")
            for ref in root.iterfind(".//bpmn:flowNodeRef", NSMAP)
            if ref.text is not None
        }
        self.outgoing: dict[str, list[etree._Element]] = {}
        for flow in root.iterfind(".//bpmn:sequenceFlow", NSMAP):
            self.outgoing.setdefault(flow.get("sourceRef") or "", []).append(flow)

    def reachable_processes(self, main: etree._Element) -> list[etree._Element]:
        """`main` and the processes of this document its call activities reach, transitively."""
        found = [main]
        seen = {main.get("id")}
        for process in found:
            for call in process.iterfind(".//bpmn:callActivity", NSMAP):
                called = call.get("calledElement")
                if called in self.processes and called not in seen:
                    seen.add(called)
                    found.append(self.processes[called])
        return found

    def lane_of(self, element: etree._Element) -> str | None:
        # As SpiffWorkflow: a task inside an embedded subprocess that has a lane takes that lane.
        parent = element.getparent()
        while parent is not None and _local(parent) != "process":
            if _local(parent) in _EMBEDDED:
                inherited = self.lane_of(parent)
                if inherited is not None:
                    return inherited
                break
            parent = parent.getparent()
        return self.lanes.get(element.get("id"))

    def collaboration_ids(self, processes: Sequence[etree._Element]) -> set[str]:
        """Ids of the participants (pools) that show these processes: lint findings on them belong here too."""
        wanted = {p.get("id") for p in processes}
        return {participant.get("id") or "" for participant in self.root.iterfind(".//bpmn:participant", NSMAP)
                if participant.get("processRef") in wanted}

    def process_of(self, element: etree._Element) -> etree._Element | None:
        for ancestor in element.iterancestors(f"{{{BPMN_NS}}}process"):
            return ancestor
        return None


def _owner_id(element: etree._Element) -> str | None:
    """The id of the flow element (task, event, gateway, flow) an expression element belongs to."""
    node: Any = element
    while node is not None:
        parent = node.getparent()
        if parent is None or _local(parent) in _CONTAINERS:
            return node.get("id")
        node = parent
    return None


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None or not element.text.strip():
        return None
    return element.text


# -- 2. SpiffWorkflow's parser -------------------------------------------------------------------------------

# SpiffWorkflow's messages, matched on their English text, said in Chinese. `{tag}` is the element's tag.
_PARSER_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.S), m) for p, m in [
        (r"There is no support implemented for this task type", "不支持的元素 {tag}"),
        (r"Multiple outgoing flows are not supported", "{tag} 不支持多条出口连线，请改用网关分支"),
        (r"Non-default exclusive outgoing sequence flow without condition",
         "网关的这条出口连线既没有条件也不是默认连线"),
        (r"No start event found", "流程缺少开始事件"),
        (r"Process (?P<p>.+?) is not executable", "流程 {p} 未标记为可执行（isExecutable=\"true\"）"),
        (r"The process '(?P<p>.*?)' was not found", "找不到被调用的流程 {p}"),
        (r"Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)",
         "子流程须有且仅有一个开始事件（现有 {n} 个）"),
        (r"A SubWorkflow Must contain an End event", "子流程缺少结束事件"),
        (r'No "calledElement" attribute', "调用活动缺少 calledElement（被调用流程的 id）"),
        (r"Duplicate process ID: (?P<p>.+)", "流程 id 重复：{p}"),
        (r"A Service Task must have an operator", "服务任务缺少 spiffworkflow:serviceTaskOperator"),
        (r"we found two items, perhaps a form has the same ID\? \((?P<t>.*)\)", "连线指向不存在的元素 {t}"),
        (r"Data Store with name (?P<n>.+?) has no implementation", "不支持数据存储（dataStore）{n}"),
        (r'No DMN Diagram available with id "(?P<d>.*?)"', "找不到决策 {d}，请一并上传其 DMN 文件"),
        (r"Unknown Time Specification", "定时器缺少 timeDate、timeDuration 或 timeCycle"),
        (r"Time Specification Error\. (?P<m>.*)", "定时器定义有误：{m}"),
        (r"Cancel Events may only be used with transactions", "取消事件只能用于事务子流程（transaction）"),
        (r"A loopMaximum or loopCondition must be specified", "循环任务须设置 loopMaximum 或 loopCondition"),
        (r"A multiinstance task must specify", "多实例任务须设置 loopCardinality 或 loopDataInputRef 之一（且只能一个）"),
        (r"Expected an? (?P<k>\w+) node", "事件引用的 {k} 定义不存在"),
        (r"Conditional event definition with missing condition", "条件事件缺少条件"),
        (r"Ad hoc subprocesses may not contain start or end events", "自由子流程中不能有开始或结束事件"),
        (r"Sequential ordering for ad hoc subprocesses not supported", "不支持顺序执行的自由子流程"),
        (r"Multiple decision tables are not current supported", "DMN 文件中只能有一个决策"),
        (r"No decisions found", "DMN 文件中没有决策"),
        (r"RecursionError", "流程图串联或嵌套过深，无法解析"),
    ]
]


def _parser_problem(exc: BaseException, doc: _Document) -> Problem:
    message = str(exc.args[0]) if exc.args else exc.__class__.__name__
    element_id: str | None = None
    tag = ""
    if isinstance(exc, ValidationException):
        element_id = exc.id or None
        tag = exc.tag or ""
    if isinstance(exc, RecursionError):
        message = "RecursionError"
    for pattern, template in _PARSER_MESSAGES:
        found = pattern.search(message)
        if found:
            text = template.format(tag=tag or "该元素", **found.groupdict())
            break
    else:
        detail = message if isinstance(exc, ValidationException) else f"{exc.__class__.__name__}: {message}"
        text = f"无法解析：{detail.strip()}"
    if element_id is None:
        element_id = _element_named_in(message, doc)
    return Problem(element_id, text)


def _element_named_in(message: str, doc: _Document) -> str | None:
    """For parser messages without a node: the element they talk about, so the modeler can highlight it."""
    searches = [
        (r"The process '(.*?)' was not found", ".//bpmn:callActivity", "calledElement"),
        (r"Data Store with name (.+?) has no implementation", ".//bpmn:dataStore", "name"),
    ]
    for pattern, path, attribute in searches:
        found = re.search(pattern, message, re.S)
        if found:
            for element in doc.root.iterfind(path, NSMAP):
                if element.get(attribute) == found.group(1):
                    return element.get("id")
    return None


def _parse_with_spiff(
    doc: _Document, key: str, dmn_roots: Sequence[etree._Element]
) -> tuple[BpmnProcessSpec | None, dict, list[Problem]]:
    parser = SpiffBpmnParser()
    problems: list[Problem] = []
    for index, dmn_root in enumerate(dmn_roots):
        try:
            parser.add_dmn_xml(dmn_root, filename=f"{key}-{index + 1}.dmn")
        except Exception as exc:  # every parser failure is a problem for the designer
            problems.append(_parser_problem(exc, doc))
    try:
        parser.add_bpmn_xml(doc.root, filename=f"{key}.bpmn")
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except Exception as exc:
        problems.append(_parser_problem(exc, doc))
        return None, {}, problems
    return spec, subprocess_specs, problems


# -- 3. our dialect ----------------------------------------------------------------------------------------------

def _user_task_info(element_id: str, name: str | None, lane: str | None, properties: dict) -> UserTaskInfo:
    properties = dict(properties)
    groups = (properties.get("candidateGroups") or "").strip() or None
    form_key = (properties.get("formKey") or "").strip() or None
    return UserTaskInfo(element_id, name or element_id, lane, groups or lane, form_key, properties)


def _user_tasks_from_specs(spec: BpmnProcessSpec, subprocess_specs: dict) -> list[UserTaskInfo]:
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


def _user_tasks_from_xml(doc: _Document, processes: Iterable[etree._Element]) -> list[UserTaskInfo]:
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


def _check_expressions(doc: _Document, processes: Sequence[etree._Element]) -> Iterator[Problem]:
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
                    yield Problem(_owner_id(definition), problem)
                break  # SpiffWorkflow reads only the first kind present


def _check_scripts(process: etree._Element) -> Iterator[Problem]:
    for task in process.iterfind(".//bpmn:scriptTask", NSMAP):
        script = _text(task.find("bpmn:script", NSMAP))
        error = "脚本任务没有脚本" if script is None else check_expression(script, "exec")
        if error:
            yield Problem(task.get("id"), f"脚本有误：{error}" if script is not None else error)
    for name, label in (("preScript", "前置脚本"), ("postScript", "后置脚本")):
        for element in process.iterfind(f".//bpmn:extensionElements/spiffworkflow:{name}", NSMAP):
            script = _text(element)
            error = check_expression(script, "exec") if script is not None else None
            if error:
                yield Problem(_owner_id(element), f"{label}有误：{error}")
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
            expression = _text(element)
            error = check_expression(expression, "eval") if expression is not None else None
            if error:
                yield Problem(_owner_id(element), f"{label}有误：{error}")


def _check_flows(doc: _Document, process: etree._Element) -> Iterator[Problem]:
    for flow in process.iterfind(".//bpmn:sequenceFlow", NSMAP):
        condition = _text(flow.find("bpmn:conditionExpression", NSMAP))
        if condition is None:
            continue
        error = check_expression(condition, "eval")
        if error:
            yield Problem(flow.get("id"), f"条件表达式有误：{error}")
        source = doc.by_id.get(flow.get("sourceRef") or "")
        if source is not None and _local(source) not in _CONDITIONAL_GATEWAYS:
            yield Problem(flow.get("id"), "只有排他网关或包容网关出口连线上的条件才会生效，请改用网关分支")
    for gateway in process.iterfind(".//bpmn:exclusiveGateway", NSMAP):
        outgoing = doc.outgoing.get(gateway.get("id") or "", [])
        if len(outgoing) <= 1:
            continue
        default = gateway.get("default")
        flow_ids = {flow.get("id") for flow in outgoing}
        conditional = [f for f in outgoing if _text(f.find("bpmn:conditionExpression", NSMAP)) is not None]
        if default is None and conditional:
            yield Problem(
                gateway.get("id"),
                "排他网关有带条件的出口连线但没有默认连线：条件都不满足时流程会停在出错状态，请设一条默认连线",
            )
        elif default is not None and default not in flow_ids:
            yield Problem(gateway.get("id"), f"默认连线 {default} 不是该网关的出口")


def _check_user_tasks(
    doc: _Document,
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


# -- the entry point ---------------------------------------------------------------------------------------------

def compile_bpmn(
    xml: bytes | str,
    *,
    process_key: str | None = None,
    dmn: Sequence[bytes] = (),
    roles: Collection[str] | None = None,
    form_keys: Collection[str] | None = None,
    lint: bool = False,
) -> CompiledDefinition:
    """Parse and validate one process of a BPMN upload; InvalidDefinition lists every problem found.

    `roles` and `form_keys`, when given, are the names a lane, `candidateGroups`, `escalateTo` and `formKey` may
    use; None skips those checks (e.g. for diagrams from elsewhere). With `lint`, bpmnlint runs too (engine/lint.py):
    its "error" findings are problems, its warnings land in `warnings` (also set on a raised InvalidDefinition).
    """
    try:
        return _compile(xml, process_key, dmn, roles, form_keys, lint)
    except InvalidDefinition:
        raise
    except Exception as exc:  # last resort: an upload must never cause anything but a 422
        raise _refuse(f"无法处理该文件：{exc.__class__.__name__}: {exc}") from exc


def _lint(raw: bytes, scope: set[str]) -> tuple[list[Problem], list[Problem]]:
    report = run_bpmnlint(raw)
    if report.unavailable:
        return [], [Problem(None, report.unavailable)]
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for finding in report.findings:
        # Only the processes being deployed count; other pools of a collaboration are documentation.
        if finding.element_id is not None and finding.element_id not in scope:
            continue
        (errors if finding.is_error else warnings).append(
            Problem(finding.element_id, f"{finding.message}（bpmnlint: {finding.rule}）"))
    return errors, warnings


def _compile(
    xml: bytes | str,
    process_key: str | None,
    dmn: Sequence[bytes],
    roles: Collection[str] | None,
    form_keys: Collection[str] | None,
    lint: bool = False,
) -> CompiledDefinition:
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    root = parse_xml_safely(raw)
    problems: list[Problem] = []
    dmn_roots = []
    for index, table in enumerate(dmn):
        try:
            dmn_roots.append(parse_xml_safely(table, kind="dmn"))
        except InvalidDefinition as exc:
            problems.extend(Problem(p.element_id, f"DMN 文件 {index + 1}：{p.message}") for p in exc.problems)

    process = _choose_process(root, process_key)
    key = process.get("id") or ""
    doc = _Document(root)
    reachable = doc.reachable_processes(process)
    warnings = _make_executable(reachable)

    spec, subprocess_specs, parser_problems = _parse_with_spiff(doc, key, dmn_roots)
    problems.extend(parser_problems)
    problems.extend(_check_expressions(doc, reachable))
    if spec is not None:
        tasks = _user_tasks_from_specs(spec, subprocess_specs)
    else:
        tasks = _user_tasks_from_xml(doc, reachable)
    problems.extend(_check_user_tasks(doc, tasks, roles, form_keys))
    for container in reachable:
        problems.extend(Problem(node.get("id"), UNREACHABLE_MESSAGE) for node in unreachable_elements(container))
    if lint:
        lint_errors, lint_warnings = _lint(raw, ids_within(reachable) | {"", *doc.collaboration_ids(reachable)})
        problems.extend(lint_errors)
        warnings.extend(lint_warnings)

    if problems or spec is None:
        unique = list({(p.element_id, p.message): p for p in problems}.values())
        refusal = InvalidDefinition(unique or [Problem(None, "无法解析该流程图")])
        refusal.warnings = warnings  # type: ignore[attr-defined]
        raise refusal
    return CompiledDefinition(
        process_key=key,
        name=process.get("name") or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=tasks,
        warnings=warnings,
    )

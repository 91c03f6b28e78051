"""SpiffWorkflow's parser run on an upload, its exceptions turned into problems anchored to an element.

SpiffWorkflow answers in English and often without an element; the designer gets the message in Chinese and, where
the text names one, the element to highlight in the modeler.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from ..errors import Problem
from .document import NSMAP, BpmnDocument

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


def _parser_problem(exc: BaseException, doc: BpmnDocument) -> Problem:
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


def _element_named_in(message: str, doc: BpmnDocument) -> str | None:
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


def parse_with_spiff(
    doc: BpmnDocument, key: str, dmn_roots: Sequence[etree._Element]
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

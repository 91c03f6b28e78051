"""Compiling uploaded diagrams (DESIGN decision 7 and "Process authoring dialect"): the safe intake and the entry point.

An upload goes through three gates, each answering with `InvalidDefinition` and a list of problems:
1. `parse_xml_safely` (here): size limit, UTF-8, no DOCTYPE/entities, well-formed XML, the right root element;
2. SpiffWorkflow's parser, whose exceptions are translated into problems anchored to an element (engine/dialect);
3. our dialect checks (roles, form keys, deadlines, timers, scripts, conditions, gateways; engine/dialect), which
   collect every problem instead of stopping at the first, and run even when the parser failed so a designer sees
   them all.
`compile_bpmn` runs the three, plus the unreachable-element check and bpmnlint (engine/lint.py).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS

from .dialect import (
    NSMAP,
    BpmnDocument,
    UserTaskInfo,
    check_correlations,
    check_expressions,
    check_user_tasks,
    parse_with_spiff,
    user_tasks_from_specs,
    user_tasks_from_xml,
)
from .dialect.document import BPMN_NS, SPIFF_NS, local_name
from .errors import InvalidDefinition, Problem
from .lint import UNREACHABLE_MESSAGE, ids_within, run_bpmnlint, unreachable_elements

__all__ = [
    "BPMN_NS", "MAX_BPMN_BYTES", "MAX_FLOW_ELEMENTS", "MAX_PROBLEMS", "NSMAP", "SPIFF_NS", "CompiledDefinition",
    "UserTaskInfo", "cap_problems", "choose_process", "compile_bpmn", "count_flow_elements", "parse_xml_safely",
]

MAX_BPMN_BYTES = 5 * 1024 * 1024
# BPMN elements with an id (tasks, events, gateways, flows, lanes, data objects, …) a diagram may have. The largest
# real process has a few hundred; a hundred thousand tie SpiffWorkflow's parser and the checks up for half a minute,
# so the count is checked on the lxml tree, before any of that runs.
MAX_FLOW_ELEMENTS = 5000
# Problems (and warnings) one answer lists: a diagram with one problem per element would otherwise answer with
# megabytes of them. The rest is summed up in one last entry.
MAX_PROBLEMS = 200

DMN_NAMESPACES = frozenset(DMN_SCHEMAS) | {"http://www.omg.org/spec/DMN/20151101/dmn.xsd"}


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


def cap_problems(problems: Sequence[Problem], limit: int = MAX_PROBLEMS) -> list[Problem]:
    """The first `limit` problems, and one more saying how many were left out."""
    if len(problems) <= limit:
        return list(problems)
    return [*problems[:limit], Problem(None, f"……另有 {len(problems) - limit} 个问题未列出，请先修改以上问题")]


def count_flow_elements(root: etree._Element) -> int:
    """BPMN model elements with an id (diagram interchange shapes and extension elements are not counted)."""
    prefix = f"{{{BPMN_NS}}}"
    return sum(1 for node in root.iter(etree.Element) if node.tag.startswith(prefix) and node.get("id") is not None)


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
    if kind == "bpmn":
        count = count_flow_elements(root)
        if count > MAX_FLOW_ELEMENTS:
            raise _refuse(f"流程图元素过多：{count} 个，上限为 {MAX_FLOW_ELEMENTS} 个，请拆分为子流程或调用活动")
    if kind == "dmn" and (local_name(root) != "definitions" or etree.QName(root).namespace not in DMN_NAMESPACES):
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


# -- the entry point ---------------------------------------------------------------------------------------------

def compile_bpmn(
    xml: bytes | str,
    *,
    process_key: str | None = None,
    dmn: Sequence[bytes] = (),
    roles: Collection[str] | None = None,
    form_keys: Collection[str] | None = None,
    lint: bool = False,
    agencies: Collection[str] | None = None,
) -> CompiledDefinition:
    """Parse and validate one process of a BPMN upload; InvalidDefinition lists every problem found.

    `roles`, `form_keys` and `agencies`, when given, are the names a lane, `candidateGroups`, `escalateTo`,
    `formKey` and `agency` (besides a `${variable}`) may use; None skips those checks (e.g. for diagrams from
    elsewhere). With `lint`, bpmnlint runs too (engine/lint.py): its "error" findings are problems, its warnings
    land in `warnings` (also set on a raised InvalidDefinition).
    """
    try:
        return _compile(xml, process_key, dmn, roles, form_keys, lint, agencies)
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
    agencies: Collection[str] | None = None,
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
    doc = BpmnDocument(root)
    reachable = doc.reachable_processes(process)
    warnings = _make_executable(reachable)

    spec, subprocess_specs, parser_problems = parse_with_spiff(doc, key, dmn_roots)
    problems.extend(parser_problems)
    problems.extend(check_expressions(doc, reachable))
    problems.extend(check_correlations(doc, reachable))
    if spec is not None:
        tasks = user_tasks_from_specs(spec, subprocess_specs)
    else:
        tasks = user_tasks_from_xml(doc, reachable)
    problems.extend(check_user_tasks(doc, tasks, roles, form_keys, agencies))
    for container in reachable:
        problems.extend(Problem(node.get("id"), UNREACHABLE_MESSAGE) for node in unreachable_elements(container))
    if lint:
        lint_errors, lint_warnings = _lint(raw, ids_within(reachable) | {"", *doc.collaboration_ids(reachable)})
        problems.extend(lint_errors)
        warnings.extend(lint_warnings)

    if problems or spec is None:
        unique = list({(p.element_id, p.message): p for p in problems}.values())
        refusal = InvalidDefinition(cap_problems(unique or [Problem(None, "无法解析该流程图")]))
        refusal.warnings = cap_problems(warnings)  # type: ignore[attr-defined]
        raise refusal
    return CompiledDefinition(
        process_key=key,
        name=process.get("name") or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=tasks,
        warnings=cap_problems(warnings),
    )

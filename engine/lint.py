"""Structural checks beyond SpiffWorkflow's parser: unreachable elements, and bpmnlint run through node.

bpmnlint is the bpmn.io linter the browser modeler runs live. The server runs *the same bundle of rules* through
node, so a designer never sees a diagram pass in the modeler and fail on deploy, or the other way round. Rules
marked "error" there refuse a deploy; "warn" rules are reported and do not.

Where that bundle is, is the web layer's business (it builds it into its static folder with `npm run build`): it
says so with `configure_bpmnlint(path)` when it builds the engine (web/engine_setup.py). Until then, and if the
file is missing, bpmnlint is reported as not run, never as a crash.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

log = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NSMAP = {"bpmn": BPMN_NS}

# The bundle of bpmnlint rules run through node; None until `configure_bpmnlint` names it.
BPMNLINT_RUNNER: Path | None = None
BPMNLINT_TIMEOUT = 20.0

FLOW_NODES = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}
_SUBPROCESSES = {"subProcess", "transaction", "adHocSubProcess"}


def _local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


# -- unreachable elements ----------------------------------------------------------------------------------------

def _link_name(event: etree._Element) -> str | None:
    definition = event.find("bpmn:linkEventDefinition", NSMAP)
    return None if definition is None else (definition.get("name") or event.get("name") or "")


def unreachable_elements(container: etree._Element) -> Iterator[etree._Element]:
    """Flow nodes of a process (or subprocess) that no token can reach from its start events.

    Roots are start events, event subprocesses and compensation handlers; a boundary event is reached with the
    activity it is attached to; a link catch event with a reached link throw event of the same name. A container
    without any start event is left alone (the parser reports that). A reached subprocess is checked inside; an
    unreached one is reported once, not with all its contents.
    """
    nodes = {n.get("id"): n for n in container if _local(n) in FLOW_NODES and n.get("id")}
    if _local(container) == "adHocSubProcess":
        for node in nodes.values():
            if _local(node) in _SUBPROCESSES:
                yield from unreachable_elements(node)
        return
    outgoing: dict[str, list[str]] = {}
    for flow in container.iterfind("bpmn:sequenceFlow", NSMAP):
        outgoing.setdefault(flow.get("sourceRef") or "", []).append(flow.get("targetRef") or "")
    boundary: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        if _local(node) == "boundaryEvent":
            boundary.setdefault(node.get("attachedToRef") or "", []).append(node_id)
    catches: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        if _local(node) == "intermediateCatchEvent":
            name = _link_name(node)
            if name is not None:
                catches.setdefault(name, []).append(node_id)

    roots = [i for i, n in nodes.items() if _local(n) == "startEvent"]
    if not roots:
        return
    roots += [i for i, n in nodes.items()
              if (_local(n) in _SUBPROCESSES and n.get("triggeredByEvent") == "true")
              or n.get("isForCompensation") == "true"]
    reached: set[str] = set()
    stack = list(roots)
    while stack:
        node_id = stack.pop()
        if node_id in reached or node_id not in nodes:
            continue
        reached.add(node_id)
        node = nodes[node_id]
        stack.extend(outgoing.get(node_id, []))
        stack.extend(boundary.get(node_id, []))
        if _local(node) == "intermediateThrowEvent":
            name = _link_name(node)
            if name is not None:
                stack.extend(catches.get(name, []))
    for node_id, node in nodes.items():
        if node_id not in reached:
            yield node
        elif _local(node) in _SUBPROCESSES:
            yield from unreachable_elements(node)


UNREACHABLE_MESSAGE = "从开始事件沿连线无法到达该元素，流程永远不会执行它"


# -- bpmnlint ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LintFinding:
    rule: str
    element_id: str | None
    message: str
    category: str  # "error" or "warn" (bpmnlint's "rule-error" for a rule that crashed is kept as a warning)

    @property
    def is_error(self) -> bool:
        return self.category == "error"


@dataclass
class LintReport:
    findings: list[LintFinding] = field(default_factory=list)
    # Why bpmnlint could not run (no node, the bundle was not built, it timed out); None when it ran.
    unavailable: str | None = None


_cache: OrderedDict[str, LintReport] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _node_binary() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


def configure_bpmnlint(runner: Path | str | None) -> None:
    """Name the bpmnlint bundle the server runs (the modeler's own rules); None turns bpmnlint off."""
    global BPMNLINT_RUNNER
    path = Path(runner) if runner is not None else None
    if path != BPMNLINT_RUNNER:
        BPMNLINT_RUNNER = path
        clear_cache()  # reports of another bundle may differ


def bpmnlint_available() -> bool:
    return _node_binary() is not None and BPMNLINT_RUNNER is not None and BPMNLINT_RUNNER.is_file()


def run_bpmnlint(xml: bytes) -> LintReport:
    """bpmnlint's findings for a BPMN document (already checked by `parse_xml_safely`); cached by content."""
    digest = hashlib.sha256(xml).hexdigest()
    with _cache_lock:
        cached = _cache.get(digest)
        if cached is not None:
            _cache.move_to_end(digest)
            return cached
    report = _run(xml)
    if report.unavailable is None:
        with _cache_lock:
            _cache[digest] = report
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return report


def _run(xml: bytes) -> LintReport:
    node = _node_binary()
    if node is None:
        return LintReport(unavailable="服务器上没有 node，未运行 bpmnlint 检查")
    runner = BPMNLINT_RUNNER
    if runner is None:
        return LintReport(unavailable="未配置 bpmnlint 检查程序，未运行 bpmnlint 检查")
    if not runner.is_file():
        return LintReport(unavailable="bpmnlint 检查程序未构建（请运行 make setup），未运行 bpmnlint 检查")
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv, the diagram goes to stdin
            [node, str(runner)], input=xml, capture_output=True, timeout=BPMNLINT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        log.warning("bpmnlint timed out after %ss", BPMNLINT_TIMEOUT)
        return LintReport(unavailable="bpmnlint 检查超时，未能完成")
    except OSError as exc:
        log.warning("bpmnlint could not start: %s", exc)
        return LintReport(unavailable="bpmnlint 检查程序无法启动")
    try:
        answer = json.loads(completed.stdout.decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError):
        log.warning("bpmnlint answered garbage (exit %s): %s", completed.returncode, completed.stderr[-500:])
        return LintReport(unavailable="bpmnlint 检查程序出错")
    if "error" in answer:
        # bpmn-moddle could not read the document. Our own parser accepted it, so say so without refusing.
        log.info("bpmnlint could not read the diagram: %s", str(answer["error"])[:300])
        return LintReport(unavailable=f"bpmnlint 无法读取该文件：{str(answer['error'])[:200]}")
    findings = []
    for item in answer.get("findings") or []:
        category = item.get("category")
        findings.append(LintFinding(
            rule=str(item.get("rule") or ""),
            element_id=item.get("element_id") or None,
            message=str(item.get("message") or ""),
            category=category if category in ("error", "warn") else "warn",
        ))
    return LintReport(findings=findings)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def ids_within(elements: Iterable[etree._Element]) -> set[str]:
    """Every id at or below the given elements (to keep lint findings to the processes being deployed)."""
    found: set[str] = set()
    for element in elements:
        for node in element.iter():
            if isinstance(node.tag, str) and node.get("id"):
                found.add(node.get("id"))
    return found

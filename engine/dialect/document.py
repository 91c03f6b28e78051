"""One BPMN document, indexed once for the dialect checks: elements by id, lanes, outgoing flows, processes.

Also the small helpers the checks share to name where a problem is (`owner_id`) and to read element text.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# Containers whose children are flow elements; a task inside an embedded subprocess inherits its lane.
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
EMBEDDED = CONTAINERS - {"process"}


def local_name(element: Any) -> str:
    # Comments and processing instructions have a function as tag.
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


class BpmnDocument:
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
        while parent is not None and local_name(parent) != "process":
            if local_name(parent) in EMBEDDED:
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


def owner_id(element: etree._Element) -> str | None:
    """The id of the flow element (task, event, gateway, flow) an expression element belongs to."""
    node: Any = element
    while node is not None:
        parent = node.getparent()
        if parent is None or local_name(parent) in CONTAINERS:
            return node.get("id")
        node = parent
    return None


def text_of(element: etree._Element | None) -> str | None:
    if element is None or element.text is None or not element.text.strip():
        return None
    return element.text

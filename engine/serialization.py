"""Workflow state without its spec (DESIGN decision 1).

The spec of a definition version is serialized once and kept in `process_definitions.spec_json`; an instance row
holds only its task tree and data, compressed. `SpeclessWorkflowConverter` drops the spec on the way out and takes
the already-built spec object on the way in, so loading an instance never rebuilds the spec.
"""
from __future__ import annotations

import json
import zlib
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

_FORMAT = "jiuzhu-1"


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = super().to_dict(workflow)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        if spec is None:
            return super().from_dict(dct)
        # Same as the parent, minus rebuilding the spec from the dict.
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = SpeclessWorkflowConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


SERIALIZER = _make_serializer()


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dump_spec(spec, subprocess_specs: dict) -> str:
    registry = SERIALIZER.registry
    return _compact(
        {
            "serializer": VERSION,
            "spec": registry.convert(spec),
            "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
        }
    )


def load_spec(spec_json: str) -> tuple[Any, dict]:
    registry = SERIALIZER.registry
    dct = json.loads(spec_json)
    spec = registry.restore(dct["spec"])
    subprocess_specs = {name: registry.restore(s) for name, s in dct["subprocess_specs"].items()}
    return spec, subprocess_specs


def dump_state(workflow: BpmnWorkflow) -> bytes:
    dct = SERIALIZER.to_dict(workflow)
    raw = _compact({"format": _FORMAT, "serializer": VERSION, "workflow": dct}).encode()
    return zlib.compress(raw, 1)


def load_state(blob: bytes, spec, subprocess_specs: dict) -> BpmnWorkflow:
    dct = json.loads(zlib.decompress(blob))
    if dct.get("format") != _FORMAT:
        raise ValueError("unknown state format")
    return SERIALIZER.from_dict(dct["workflow"], spec=spec, subprocess_specs=subprocess_specs)

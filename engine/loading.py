"""The "load" of load → step → save: where the engine gets its session and time, and the parsed specs and workflows
it loads, with the caches that spare re-parsing them.

`EngineBase` is the root of the `Engine` facade (engine/runtime.py): every other part (step kernel, task projection,
task actions, event delivery) builds on what it holds.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock as clock_module
from .errors import NotFound
from .models import ProcessDefinition, ProcessInstance
from .serialization import load_spec, load_state

if TYPE_CHECKING:  # only for annotations: engine.step imports this module
    from .step import Listener


class Calendar(Protocol):
    def add_working_days(self, start: datetime, n: int) -> datetime: ...

    def subtract_working_days(self, deadline: datetime, n: int) -> datetime: ...


@dataclass
class LoadedSpec:
    version: int
    spec: Any
    subprocess_specs: dict
    user_tasks: dict[str, dict]


class WorkflowCache:
    """Recently stepped workflows by instance, so the next step on this process skips deserialising.

    An entry is valid only for the row version it was saved as; `take` removes it, so a step that fails never
    leaves a half-changed workflow behind.
    """

    def __init__(self, size: int = 500):
        self._size = size
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: int, version: int) -> BpmnWorkflow | None:
        with self._lock:
            item = self._items.pop(instance_id, None)
        return item[1] if item is not None and item[0] == version else None

    def put(self, instance_id: int, version: int, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[instance_id] = (version, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class EngineBase:
    """Session, clock, calendar, listeners and script engine the app injects, and spec/workflow loading."""

    def __init__(
        self,
        session: Callable[[], Session],
        *,
        script_engine=None,
        calendar: Calendar | None = None,
        listeners: Iterable[Listener] = (),
        clock: clock_module.Clock | None = None,
    ):
        self._session = session
        self.script_engine = script_engine
        self.calendar = calendar
        self.listeners = list(listeners)
        self._clock = clock
        self._specs: dict[int, LoadedSpec] = {}
        self._workflows = WorkflowCache()

    # -- time ---------------------------------------------------------------------------------------------
    @property
    def clock(self) -> clock_module.Clock:
        return self._clock or clock_module.active()

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def session(self) -> Session:
        return self._session()

    # -- specs --------------------------------------------------------------------------------------------
    def spec_for(self, definition_id: int) -> LoadedSpec:
        """The parsed spec of a definition version; versions never change, so it is cached per process."""
        loaded = self._specs.get(definition_id)
        if loaded is None:
            definition = self.session.get(ProcessDefinition, definition_id)
            if definition is None:
                raise NotFound("流程定义不存在")
            spec, subprocess_specs = load_spec(definition.spec_json)
            user_tasks = {t["element_id"]: t for t in (definition.user_tasks or [])}
            loaded = self._specs[definition_id] = LoadedSpec(definition.version, spec, subprocess_specs, user_tasks)
        return loaded

    def forget_specs(self) -> None:
        """Drop cached specs and workflows (a test that empties the database reuses ids)."""
        self._specs.clear()
        self._workflows.clear()

    def latest_definition(self, process_key: str) -> ProcessDefinition:
        definition = self.session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == process_key)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        ).first()
        if definition is None:
            raise NotFound(f"流程 {process_key} 尚未部署")
        return definition

    # -- workflows ----------------------------------------------------------------------------------------
    def workflow_of(self, instance: ProcessInstance) -> BpmnWorkflow:
        """A read-only copy of an instance's workflow (for inspection; changes are not saved)."""
        loaded = self.spec_for(instance.definition_id)
        workflow = load_state(instance.state, loaded.spec, loaded.subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow

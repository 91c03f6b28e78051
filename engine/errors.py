"""Exceptions the engine raises; the web layer maps each to one HTTP status."""
from __future__ import annotations

from dataclasses import dataclass, field


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"


@dataclass
class Problem:
    """One thing wrong with a diagram, anchored to the element it concerns."""

    element_id: str | None
    message: str

    def as_dict(self) -> dict:
        return {"element_id": self.element_id, "message": self.message}


class InvalidDefinition(EngineError):
    """A diagram cannot be deployed; `problems` names each element and what is wrong."""

    code = "invalid_definition"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.element_id or '-'}: {p.message}" for p in problems))


class NotFound(EngineError):
    code = "not_found"


class Conflict(EngineError):
    """The request is valid but the state has moved on: already claimed/completed, stale version."""

    code = "conflict"


class StaleState(Conflict):
    code = "stale_version"


class InvalidInput(EngineError):
    """Input the caller can fix; `fields` maps a field name to its messages."""

    code = "validation_error"

    def __init__(self, message: str, fields: dict | None = None):
        self.fields = fields or {}
        super().__init__(message)


class Forbidden(EngineError):
    code = "forbidden"


class ScriptError(EngineError):
    """A BPMN script or condition failed or tried something the sandbox forbids."""

    code = "script_error"


@dataclass
class StepOutcome:
    """What one step changed, for callers that want to report it."""

    created_task_ids: list[int] = field(default_factory=list)
    completed: bool = False

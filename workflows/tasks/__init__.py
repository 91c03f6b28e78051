"""Human-task work shared by the staff pages and the REST API: the task service and what it is built from."""
from __future__ import annotations

from .service import Completion, Returned, TaskService

__all__ = ["Completion", "Returned", "TaskService"]

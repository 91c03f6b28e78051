"""The history entries the domain writes besides the engine's own (``engine.audit.AuditAction``).

Registered with the engine at import (``workflows/__init__.py`` imports this module), so the audit column accepts
them; the pages label every member (``web/ui/labels.py``).
"""
from __future__ import annotations

from enum import StrEnum

from engine.audit import register_actions


class CaseAction(StrEnum):
    HOUSEHOLD_UPDATED = "household_updated"
    SPOT_CHECK_SELECTED = "spot_check_selected"
    ATTACHMENT_UPLOADED = "attachment_uploaded"
    CASE_COPIED = "case_copied"
    TASK_TRANSFERRED = "task_transferred"
    TASK_DELEGATED = "task_delegated"
    # Approval operations (workflows.tasks.operations): the delegate's part done, 拿回, 撤回, 已阅.
    TASK_DELEGATION_RETURNED = "task_delegation_returned"
    TASK_TAKEN_BACK = "task_taken_back"
    CASE_WITHDRAWN = "case_withdrawn"
    COPY_READ = "copy_read"


register_actions(CaseAction)

"""Task drafts (保存草稿): the values as typed, one per open task, whoever holds the task sees it.

Not validated — a draft may be half done — but at most 64 KB of JSON. Dropped in the step that closes the task
(completed or returned: ``workflows.listener.DropFinishedDrafts``) or when the holder throws it away.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.models import HumanTask, TaskStatus

from ..models import TaskDraft

MAX_DRAFT_BYTES = 64 * 1024


def get_draft(session: Session, task_id: int) -> TaskDraft | None:
    return session.get(TaskDraft, task_id)


def save_draft(session: Session, task: HumanTask, username: str, data: Any, now: datetime) -> TaskDraft:
    if task.status != TaskStatus.OPEN:
        raise InvalidInput("任务已办结，不能保存草稿", {"data": ["任务已办结"]})
    if not isinstance(data, dict):
        raise InvalidInput("草稿须为对象", {"data": ["须为 JSON 对象"]})
    try:
        size = len(json.dumps(data, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidInput("草稿须可保存为 JSON", {"data": ["须可保存为 JSON"]}) from exc
    if size > MAX_DRAFT_BYTES:
        raise InvalidInput("草稿过大", {"data": [f"草稿不能超过 {MAX_DRAFT_BYTES // 1024} KB"]})
    draft = session.get(TaskDraft, task.id)
    if draft is None:
        draft = TaskDraft(task_id=task.id, data=data, saved_by=username, saved_at=now)
        session.add(draft)
    else:
        draft.data = data
        draft.saved_by = username
        draft.saved_at = now
    session.commit()
    return draft


def drop_draft(session: Session, task_id: int) -> None:
    session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id))
    session.commit()


def earlier_submission(session: Session, task: HumanTask) -> dict | None:
    """What was submitted the last time this step of the instance was done (to prefill a returned task)."""
    row = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == task.instance_id, HumanTask.element_id == task.element_id,
                                HumanTask.status == TaskStatus.COMPLETED, HumanTask.id != task.id)
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1)
    ).first()
    return dict(row.data) if row is not None and row.data else None

"""Task work the pages and the REST API share: drafts, sending back (退回), household corrections.

* **Drafts (保存草稿)**: one per open task, whoever holds the task sees it; the raw values as typed (not
  validated — a draft may be half done), at most 64 KB of JSON. Dropped when the task completes or is sent back.
* **Returns**: any earlier user task of the instance (``engine.returns``); the re-opened task goes back to the
  person who did it last time when they still hold that role for that place, otherwise to the group's pool.
* **Household**: the acceptance and survey forms carry the household members as an editable table; the corrected
  list replaces the case's household and the workflow's ``household`` in one engine step before the task completes.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.models import HumanTask, TaskStatus
from engine.returns import return_task
from engine.runtime import Engine, StepContext
from engine.task_data import update_task_data

from . import access
from .cases import MemberSchema
from .idcard import birth_date_of, mask_id_number
from .listener import case_id_of
from .models import Case, TaskDraft, User

MAX_DRAFT_BYTES = 64 * 1024
HOUSEHOLD_FORMS = {"dibao_accept", "dibao_survey"}
MEMBER_FIELDS = ("name", "id_number", "relation", "birth_date", "work_capacity", "disability_grade",
                 "serious_illness")
WORK_CAPACITY = {"full": "有劳动能力", "partial": "部分丧失劳动能力", "none": "无劳动能力"}


# -- drafts -----------------------------------------------------------------------------------------------------


def get_draft(session: Session, task_id: int) -> TaskDraft | None:
    return session.get(TaskDraft, task_id)


def save_draft(session: Session, task: HumanTask, user: User, data: Any, now: datetime) -> TaskDraft:
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
        draft = TaskDraft(task_id=task.id, data=data, saved_by=user.username, saved_at=now)
        session.add(draft)
    else:
        draft.data = data
        draft.saved_by = user.username
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


# -- returns ----------------------------------------------------------------------------------------------------


def earlier_holder(session: Session, task: HumanTask, element_id: str) -> str | None:
    """Who did `element_id` last in this instance, if they still may work it (same role, place in scope)."""
    row = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == task.instance_id, HumanTask.element_id == element_id,
                                HumanTask.status == TaskStatus.COMPLETED)
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1)
    ).first()
    if row is None or not row.completed_by:
        return None
    user = session.scalars(select(User).where(User.username == row.completed_by)).first()
    if user is None or not user.active:
        return None
    if row.role is None:
        return user.username  # a task nobody was named for went to its starter; it goes back to them
    if user.role != row.role or not access.in_scope(user, row.district, row.street, row.community):
        return None
    return user.username


def send_back(session: Session, engine: Engine, *, user: User, task: HumanTask, to: str,
              reason: str) -> HumanTask | None:
    """退回: the caller has checked that `user` may work `task`. Returns the re-opened task."""
    reopened = return_task(engine, task.id, actor=user.username, to=(to or "").strip(), reason=reason,
                           assign_to=earlier_holder(session, task, (to or "").strip()))
    return reopened  # the returned task's draft went with the step (workflows.listener.DropFinishedDrafts)


# -- household --------------------------------------------------------------------------------------------------


def _json_day(value) -> str | None:
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return value


def validate_members(rows: list[dict], original: list[dict]) -> tuple[list[dict], dict[str, list[str]]]:
    """Clean the members table; masked ID numbers of existing members stand for the stored ones.

    Each row may carry ``key``: the index of the member in `original` it edits. Returns (members, errors) where
    errors use the names ``members-<row>-<field>`` (and ``members`` for the table as a whole).
    """
    members: list[dict] = []
    errors: dict[str, list[str]] = {}
    if not rows:
        return [], {"members": ["家庭成员至少 1 人"]}
    for index, raw in enumerate(rows):
        row = {k: raw.get(k) for k in MEMBER_FIELDS}
        key = raw.get("key")
        known = original[int(key)] if isinstance(key, str) and key.isdecimal() and int(key) < len(original) else None
        number = (row.get("id_number") or "").strip()
        if known is not None and (not number or "*" in number):
            number = known.get("id_number") or ""
        row["id_number"] = number
        for name in ("name", "relation", "work_capacity"):
            row[name] = (row.get(name) or "").strip()
        if not (row.get("birth_date") or "").strip():
            try:
                row["birth_date"] = birth_date_of(number).isoformat()
            except ValueError:
                row["birth_date"] = None
        grade = (str(row.get("disability_grade") or "")).strip()
        row["disability_grade"] = int(grade) if grade.isdecimal() else (grade or None)
        row["serious_illness"] = row.get("serious_illness") in (True, "1", "true", "on", "yes")
        try:
            cleaned = MemberSchema().load({k: v for k, v in row.items() if v is not None})
        except ValidationError as exc:
            for field, messages in exc.normalized_messages().items():
                errors[f"members-{index}-{field}"] = [str(m) for m in messages] if isinstance(messages, list) \
                    else [str(messages)]
            continue
        cleaned["id_number"] = cleaned["id_number"].strip().upper()
        members.append({k: _json_day(v) for k, v in cleaned.items()})
    numbers = [m["id_number"] for m in members]
    if len(numbers) != len(set(numbers)):
        errors["members"] = ["家庭成员身份证号重复"]
    return members, errors


def masked_members(members: list) -> list:
    """Members as shown back to a user: ID numbers masked (entries that are not objects pass through)."""
    return [dict(m, id_number=mask_id_number(str(m.get("id_number") or ""))) if isinstance(m, dict) else m
            for m in members]


def apply_household(engine: Engine, *, user: User, task: HumanTask, members: list[dict]) -> bool:
    """Put the corrected members into the case row and the workflow (one step). Returns whether they changed."""
    case_id = case_id_of(task.business_key)
    case = engine.session.get(Case, case_id) if case_id else None
    if case is None:
        return False
    household = dict(case.household or {})
    before = household.get("members") or []
    changed = before != members
    household["members"] = members

    def also(ctx: StepContext) -> None:
        row = ctx.session.get(Case, case_id)
        if row is not None and changed:
            row.household = household
            row.household_size = len(members)
            row.updated_at = ctx.now

    update_task_data(engine, task.id, actor=user.username, values={"household": household}, all_branches=True,
                     audit_action="household_updated" if changed else None,
                     audit_detail={"members_before": len(before), "members_after": len(members)},
                     also=also)
    return changed

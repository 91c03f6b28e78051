"""The household table on the acceptance and survey forms: staff correct the members while they do the step.

The corrected list is checked like an application's members (``workflows.cases.MemberSchema``); a masked ID
number of a member already on file stands for the stored one, so the page and the API never need the full number
back. The change is written by `household_writer`, which runs inside the engine step that completes the task: the
case row, the workflow's ``household`` on every branch and the audit entry commit with the completion, or not at
all.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError

from engine.models import HumanTask
from engine.runtime import StepContext
from engine.task_data import set_data_everywhere

from .. import messages
from ..audit_actions import CaseAction
from ..cases import MemberSchema
from ..idcard import birth_date_of, mask_id_number
from ..models import Case

HOUSEHOLD_FORMS = {"dibao_accept", "dibao_survey"}
SHOWN_FIELDS = ("name", "relation", "birth_date", "work_capacity", "disability_grade", "serious_illness")


def _json_day(value):
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def members_on_file(case: Case) -> list[dict]:
    """The case's members as shown to staff: ``key`` (the member's index), masked ID number, the other fields."""
    rows = []
    for index, member in enumerate(case.household.get("members") or []):
        row = {k: member.get(k) for k in SHOWN_FIELDS}
        row.update(key=str(index), id_number=mask_id_number(member.get("id_number") or ""))
        rows.append(row)
    return rows


def validate_members(rows: Any, original: list[dict]) -> tuple[list[dict], dict[str, list[str]]]:
    """Clean the members table; masked ID numbers of existing members stand for the stored ones.

    Each row may carry ``key``: the index of the member in `original` it edits. Returns (members, errors) where
    errors use the names ``members-<row>-<field>`` (and ``members`` for the table as a whole).
    """
    if not isinstance(rows, list):
        return [], {"members": [messages.NOT_LIST]}
    if not rows:
        return [], {"members": ["家庭成员至少 1 人"]}
    if len(rows) > 30:
        return [], {"members": ["家庭成员至多 30 人"]}
    members: list[dict] = []
    errors: dict[str, list[str]] = {}
    for index, raw in enumerate(rows):
        if not isinstance(raw, dict):
            errors[f"members-{index}"] = [messages.NOT_OBJECT]
            continue
        key = raw.get("key")
        key = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
        known = original[int(key)] if isinstance(key, str) and key.isdecimal() and int(key) < len(original) else None
        number = _text(raw.get("id_number"))
        if known is not None and (not number or "*" in number):
            number = known.get("id_number") or ""
        row: dict[str, Any] = {name: _text(raw.get(name)) for name in ("name", "relation", "work_capacity")}
        row["id_number"] = number
        birth = _text(raw.get("birth_date"))
        if not birth:
            try:
                birth = birth_date_of(number).isoformat()
            except ValueError:
                birth = ""
        row["birth_date"] = birth or None
        grade = _text(raw.get("disability_grade"))
        row["disability_grade"] = int(grade) if grade.isdecimal() else (grade or None)
        row["serious_illness"] = raw.get("serious_illness") in (True, "1", "true", "on", "yes")
        try:
            cleaned = MemberSchema().load({k: v for k, v in row.items() if v is not None})
        except ValidationError as exc:
            for name, found in exc.normalized_messages().items():
                errors[f"members-{index}-{name}"] = [str(m) for m in found] if isinstance(found, list) \
                    else [str(found)]
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


def household_writer(case_id: int, task: HumanTask, members: list[dict]) -> Callable[[StepContext, Any, Any], None]:
    """The `prepare` hook of ``Engine.complete_task`` that puts the corrected members into the case and the flow."""

    def write(ctx: StepContext, workflow, spiff_task) -> None:
        case = ctx.session.get(Case, case_id)
        if case is None:
            return
        household = dict(case.household or {})
        before = household.get("members") or []
        household["members"] = members
        # Instance-wide: a branch still waiting (the economic check) would otherwise bring the old list back at
        # the parallel join (engine.task_data explains the merge).
        set_data_everywhere(workflow, spiff_task, {"household": household})
        if before == members:
            return
        case.household = household
        case.household_size = len(members)
        case.updated_at = ctx.now
        ctx.audit(CaseAction.HOUSEHOLD_UPDATED, task_id=task.id, element_id=task.element_id, element_name=task.name,
                  detail={"members_before": len(before), "members_after": len(members)})

    return write

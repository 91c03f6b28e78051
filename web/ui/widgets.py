"""Helpers the staff pages share: Chinese labels, local times, schema-driven form fields, error messages."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, request
from werkzeug.datastructures import MultiDict

from engine.clock import SHANGHAI
from workflows.programs import PROGRAMS
from workflows.roles import ROLES

CASE_STATUS = {"in_progress": "办理中", "approved": "已批准", "refused": "不予批准", "withdrawn": "已撤回",
               "closed": "已终止"}
TASK_STATUS = {"open": "待办", "completed": "已办结", "cancelled": "已取消"}
OUTCOMES = {"approve": "同意", "reject": "不同意", "accept": "受理", "returned": "已退回"}
ACTIONS = {
    "process_started": "提交申请",
    "task_completed": "办结",
    "task_claimed": "认领",
    "task_unclaimed": "取消认领",
    "task_transferred": "转办",
    "task_delegated": "委派",
    "task_returned": "退回",
    "comment": "评论",
    "message_received": "收到消息",
    "timer_fired": "定时到期",
    "process_completed": "流程结束",
    "spot_check_selected": "抽查选取",
    "attachment_uploaded": "上传附件",
    "case_copied": "抄送",
    "household_updated": "更正家庭成员",
    "task_reminded": "到期提醒",
    "task_overdue": "超期",
    "task_escalated": "超期督办",
    "task_urged": "催办",
    "process_overdue": "整体办理时限已过",
    "deadlines_paused": "暂停计时",
    "deadlines_resumed": "恢复计时",
    "time_limit_set": "设定办理时限",
    "time_limit_extended": "延长办理时限",
    "migrated": "迁移到新流程版本",
}
# Who did it, for actors that are not people.
ACTORS = {"system": "系统", "public": "公众（公示页面）", "cli": "系统"}
MESSAGES = {"economic_check.completed": "家庭经济状况核对结果", "objection.lodged": "公示异议"}
WORK_CAPACITY = {"full": "有劳动能力", "partial": "部分丧失劳动能力", "none": "无劳动能力"}
RELATIONS = ["本人", "配偶", "子女", "父母", "兄弟姐妹", "祖父母", "孙子女", "其他"]


def program_name(key: str | None) -> str:
    program = PROGRAMS.get(key or "")
    return program.name if program else (key or "")


def role_name(key: str | None) -> str:
    role = ROLES.get(key or "")
    return role.name if role else (key or "")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def due_time(value: datetime | None) -> str:
    """A deadline: "within N working days" ends at 24:00 of the Nth day, shown as such rather than 00:00 next day."""
    if value is None:
        return ""
    local = value.astimezone(SHANGHAI)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{(local - timedelta(days=1)):%Y-%m-%d} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def money(value) -> str:
    if value is None:
        return "—"
    return f"{float(value):,.2f}"


def register_filters(bp: Blueprint) -> None:
    bp.add_app_template_filter(local_time, "local_time")
    bp.add_app_template_filter(lambda v: local_time(v, "%Y-%m-%d"), "local_date")
    bp.add_app_template_filter(money, "money")
    bp.add_app_template_filter(due_time, "due_time")
    bp.add_app_template_filter(program_name, "program_name")
    bp.add_app_template_filter(role_name, "role_name")
    bp.add_app_template_global(CASE_STATUS, "CASE_STATUS")
    bp.add_app_template_global(TASK_STATUS, "TASK_STATUS")
    bp.add_app_template_global(OUTCOMES, "OUTCOMES")
    bp.add_app_template_global(ACTIONS, "ACTIONS")
    bp.add_app_template_global(WORK_CAPACITY, "WORK_CAPACITY")
    bp.add_app_template_global(RELATIONS, "RELATIONS")


def safe_next(target: str | None) -> str | None:
    """Only same-site paths (no open redirect)."""
    if not target or urlsplit(target).netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def current_path() -> str:
    return request.full_path.rstrip("?")


# -- Chinese messages for marshmallow's defaults (the case schemas use them) -------------------------------------

_EXACT = {
    "Missing data for required field.": "此项为必填项",
    "Field may not be null.": "此项不能为空",
    "Not a valid string.": "应为文本",
    "Not a valid integer.": "应为整数",
    "Not a valid number.": "应为数字",
    "Not a valid date.": "日期格式应为 YYYY-MM-DD",
    "Not a valid boolean.": "应为是或否",
    "Not a valid list.": "应为列表",
    "Invalid input type.": "数据类型不正确",
    "Unknown field.": "未知字段",
    "Invalid value.": "取值无效",
}
_PATTERNS = [
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), "长度应为 {0}–{1} 个字符"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), "至少 {0} 项"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), "至多 {0} 项"),
    (re.compile(r"^Must be one of: .*\.$"), "请从选项中选择"),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), "不能小于 {0}"),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"), "应在 {0} 到 {1} 之间"),
    (re.compile(r"^String does not match expected pattern\.$"), "格式不正确"),
]


def zh(message: str) -> str:
    text = str(message)
    if text in _EXACT:
        return _EXACT[text]
    for pattern, template in _PATTERNS:
        match = pattern.match(text)
        if match:
            return template.format(*match.groups())
    return text


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested marshmallow messages → {"applicant.id_number": [...], "household.members.0.name": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, (list, tuple)):
        for item in messages:
            if isinstance(item, (dict, list, tuple)):
                for k, v in flatten_errors(item, prefix).items():
                    out.setdefault(k, []).extend(v)
            else:
                out.setdefault(prefix or "_schema", []).append(zh(item))
    else:
        out.setdefault(prefix or "_schema", []).append(zh(messages))
    return out


# -- form fields from a task form's JSON Schema -----------------------------------------------------------------


@dataclass
class Field:
    name: str
    label: str
    help: str
    kind: str  # choice, boolean, list, integer, number, date, textarea, text
    required: bool
    choices: list[tuple[str, str]] = field(default_factory=list)


def _base_type(prop: dict) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind


def form_fields(schema: dict) -> list[Field]:
    out = []
    required = set(schema.get("required") or [])
    for name in schema.get("x-order") or list(schema.get("properties") or {}):
        prop = schema["properties"][name]
        kind = _base_type(prop)
        choices: list[tuple[str, str]] = []
        if "enum" in prop:
            labels = prop.get("x-enumNames") or prop["enum"]
            choices = list(zip((str(v) for v in prop["enum"]), labels, strict=False))
            widget = "choice"
        elif kind == "boolean":
            widget = "boolean"
            choices = [("true", "是"), ("false", "否")]
        elif kind == "array":
            widget = "list"
        elif kind in ("integer", "number"):
            widget = kind
        elif prop.get("format") == "date":
            widget = "date"
        elif prop.get("x-widget") == "textarea":
            widget = "textarea"
        else:
            widget = "text"
        out.append(Field(name, prop.get("title") or name, prop.get("description") or "", widget,
                         name in required, choices))
    return out


_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def parse_form(fields: list[Field], form: MultiDict) -> tuple[dict, dict]:
    """(data for validate_form, raw values to show again / keep as a draft)."""
    data: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for f in fields:
        if f.kind == "list":
            values = [v.strip() for v in form.getlist(f.name)]
            raw[f.name] = values
            data[f.name] = [v for v in values if v]
            continue
        value = (form.get(f.name) or "").strip()
        raw[f.name] = value
        if not value:
            continue
        if f.kind == "boolean":
            data[f.name] = {"true": True, "false": False}.get(value, value)
        elif f.kind == "integer":
            data[f.name] = int(value) if _INT.match(value) else value
        elif f.kind == "number":
            cleaned = value.replace(",", "").replace("，", "")
            data[f.name] = float(cleaned) if _NUM.match(cleaned) else value
        else:
            data[f.name] = value
    return data, raw


def raw_from_data(fields: list[Field], data: dict | None) -> dict:
    """Submitted/draft data (any JSON) → values the form shows."""
    out: dict[str, Any] = {}
    for f in fields:
        value = (data or {}).get(f.name)
        if value is None:
            continue
        if f.kind == "list":
            out[f.name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif f.kind == "boolean" and isinstance(value, bool):
            out[f.name] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[f.name] = str(int(value))
        else:
            out[f.name] = str(value)
    return out


MEMBER_KEYS = ("key", "name", "id_number", "relation", "birth_date", "work_capacity", "disability_grade",
               "serious_illness")


def parse_member_rows(form: MultiDict, prefix: str = "members") -> list[dict]:
    """Rows named ``members-<n>-<field>`` in the order of n; empty rows are skipped."""
    indexes = sorted({int(m.group(1)) for key in form.keys()
                      if (m := re.match(rf"^{prefix}-(\d+)-", key)) and int(m.group(1)) < 100})
    rows = []
    for n in indexes:
        row = {k: (form.get(f"{prefix}-{n}-{k}") or "").strip() for k in MEMBER_KEYS}
        if not any(row[k] for k in ("name", "id_number", "relation", "birth_date")):
            continue
        rows.append(row)
    return rows

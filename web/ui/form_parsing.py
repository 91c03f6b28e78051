"""Task and case forms on the staff pages: the fields of a task form's JSON Schema, submitted form values parsed
into data to validate (and raw values to show again), household member rows, and validation errors per field in
the wording of the message catalog (workflows.messages)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from workflows.messages import translate


@dataclass
class Field:
    name: str
    label: str
    help: str
    kind: str  # choice, boolean, list, integer, number, date, textarea, text, income_items, flag_decisions
    required: bool
    choices: list[tuple[str, str]] = field(default_factory=list)


def _base_type(prop: dict) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind


# Fields the page shows as a table of inputs named ``<field>-<row>-<column>`` (workflows.forms.income).
TABLE_WIDGETS = {"income-items": "income_items", "flag-decisions": "flag_decisions"}
INCOME_ITEM_KEYS = ("type", "amount", "member", "note")


def form_fields(schema: dict) -> list[Field]:
    out = []
    required = set(schema.get("required") or [])
    for name in schema.get("x-order") or list(schema.get("properties") or {}):
        prop = schema["properties"][name]
        kind = _base_type(prop)
        choices: list[tuple[str, str]] = []
        if prop.get("x-widget") in TABLE_WIDGETS:
            widget = TABLE_WIDGETS[prop["x-widget"]]
        elif "enum" in prop:
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
        if f.kind == "income_items":
            # Always a list (maybe empty): a household without income submits an empty table, not nothing.
            data[f.name] = raw[f.name] = parse_rows(form, f.name, INCOME_ITEM_KEYS, ("type", "amount", "member", "note"))
            continue
        if f.kind == "flag_decisions":
            decisions = parse_flag_decisions(form, f.name)
            raw[f.name] = decisions
            if decisions:
                data[f.name] = decisions
            continue
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
        if f.kind == "income_items":
            out[f.name] = [{k: _shown(row.get(k)) for k in INCOME_ITEM_KEYS} for row in value
                           if isinstance(row, dict)] if isinstance(value, list) else []
        elif f.kind == "flag_decisions":
            out[f.name] = {str(k): {"decision": _shown(v.get("decision")), "opinion": _shown(v.get("opinion"))}
                           for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) else {}
        elif f.kind == "list":
            out[f.name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif f.kind == "boolean" and isinstance(value, bool):
            out[f.name] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[f.name] = str(int(value))
        else:
            out[f.name] = str(value)
    return out


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_rows(form: MultiDict, prefix: str, keys: tuple[str, ...], content: tuple[str, ...]) -> list[dict]:
    """Rows named ``<prefix>-<n>-<key>`` in the order of n; rows with none of the `content` keys filled are
    skipped (the blank row a table offers for typing)."""
    # At most 3 ASCII digits: a crafted name with thousands of digits must not reach int() (Python refuses > 4300).
    indexes = sorted({int(m.group(1)) for key in form.keys()
                      if (m := re.match(rf"{re.escape(prefix)}-([0-9]{{1,3}})-", key)) and int(m.group(1)) < 100})
    rows = []
    for n in indexes:
        row = {k: (form.get(f"{prefix}-{n}-{k}") or "").strip() for k in keys}
        if any(row[k] for k in content):
            rows.append(row)
    return rows


def parse_flag_decisions(form: MultiDict, prefix: str = "flag_decisions") -> dict[str, dict]:
    """``<prefix>-<flag>-decision`` and ``-opinion`` → {flag: {decision, opinion}}; untouched flags left out."""
    out: dict[str, dict] = {}
    for key in form.keys():
        m = re.match(rf"^{re.escape(prefix)}-([a-z][a-z0-9_]{{0,49}})-(decision|opinion)$", key)
        if m:
            out.setdefault(m.group(1), {"decision": "", "opinion": ""})[m.group(2)] = (form.get(key) or "").strip()
    return {k: v for k, v in out.items() if v["decision"] or v["opinion"]}


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
                out.setdefault(prefix or "_schema", []).append(translate(item))
    else:
        out.setdefault(prefix or "_schema", []).append(translate(messages))
    return out

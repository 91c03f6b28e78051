"""The forms registry: one schema per BPMN ``formKey``, their validation and their JSON Schema.

The engine validates a completed task's data with :func:`validate_form` before it reaches the workflow, so BPMN
conditions can trust the values (``decision`` is exactly ``'approve'`` or ``'reject'``, incomes are numbers).
Cleaned data is JSON-ready (dates as ISO strings) because it is stored in serialized workflow state. Optional
fields that were not sent come back as ``None`` so that a value from an earlier step (every review form writes
``opinion``) is never mistaken for this step's answer. Fields a form does not declare are dropped rather than
refused: clients may send a whole UI state, but only declared fields ever reach the task data.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from .. import messages
from .toolkit import DistinctNames

# --- registry --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormDef:
    key: str
    title: str
    schema: type[Schema]


FORMS: dict[str, FormDef] = {}


def register_form(key: str, title: str, schema: type[Schema]) -> FormDef:
    """Add a form; the deploy check rejects diagrams whose formKey is not registered."""
    FORMS[key] = FormDef(key, title, schema)
    return FORMS[key]




class FormError(Exception):
    """Invalid form data; ``fields`` maps each field (``_schema`` for the whole form) to Chinese messages."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("；".join(f"{k}: {'，'.join(v)}" for k, v in fields.items()))


def get_form(form_key: str | None) -> FormDef:
    """The form for a task; a task without a formKey gets the generic one."""
    if not form_key:
        return FORMS["generic"]
    try:
        return FORMS[form_key]
    except KeyError:
        raise KeyError(f"未知表单：{form_key}") from None


def _flatten(messages) -> list[str]:
    # List fields report per-item errors as {index: [...]}: say which item, counting from 1 as people do.
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            prefix = f"第 {key + 1} 项：" if isinstance(key, int) else f"{key}："
            out.extend(prefix + m for m in _flatten(value))
        return out
    if isinstance(messages, (list, tuple)):
        return [m for item in messages for m in _flatten(item)]
    return [str(messages)]


def _json_ready(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


# A task's data is stored in the workflow state and every later step carries it: 64 KB is far more than any form
# needs (free-text fields stop at 2000 characters, see toolkit.MAX_TEXT) and keeps the generic form bounded too.
MAX_FORM_BYTES = 64 * 1024


def _json_size(data: dict) -> int:
    try:
        return len(json.dumps(data, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        return 0  # not JSON at all: the schema says what is wrong with it


def validate_form(form_key: str | None, data: Any) -> dict:
    """Validate and clean a task's submitted data; raise :class:`FormError` with per-field Chinese messages."""
    form = get_form(form_key)
    if not isinstance(data, dict):
        raise FormError({"_schema": [messages.FORM_NOT_OBJECT]})
    size = _json_size(data)
    if size > MAX_FORM_BYTES:
        raise FormError({"_schema": [messages.FORM_TOO_LARGE.format(limit=MAX_FORM_BYTES // 1024)]})
    try:
        cleaned = form.schema().load(data)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise FormError({key: _flatten(value) for key, value in errors.items()}) from None
    return _json_ready(cleaned)


# --- JSON Schema -----------------------------------------------------------------------------------------------

_TYPES: list[tuple[type, dict]] = [
    # Most specific first: Day is a Date, AccountNumber a Text.
    (fields.Date, {"type": "string", "format": "date"}),
    (fields.Integer, {"type": "integer"}),
    (fields.Number, {"type": "number"}),
    (fields.Boolean, {"type": "boolean"}),
    (fields.String, {"type": "string"}),
    (fields.List, {"type": "array"}),
]


def _field_schema(field: fields.Field) -> dict:
    out: dict[str, Any] = {}
    for cls, spec in _TYPES:
        if isinstance(field, cls):
            out.update(spec)
            break
    if isinstance(field, fields.List):
        out["items"] = _field_schema(field.inner)
    label, help_text = field.metadata.get("label"), field.metadata.get("help")
    if label:
        out["title"] = label
    if help_text:
        out["description"] = help_text
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            out["enum"] = list(v.choices)
            labels = field.metadata.get("choices")
            if labels:
                out["x-enumNames"] = [labels[c] for c in v.choices]
        elif isinstance(v, validate.Range):
            if v.min is not None:
                out["minimum" if v.min_inclusive else "exclusiveMinimum"] = v.min
            if v.max is not None:
                out["maximum" if v.max_inclusive else "exclusiveMaximum"] = v.max
        elif isinstance(v, validate.Length):
            prefix = "Items" if out.get("type") == "array" else "Length"
            if v.min is not None:
                out[f"min{prefix}"] = v.min
            if v.max is not None:
                out[f"max{prefix}"] = v.max
        elif isinstance(v, validate.Regexp):
            out["pattern"] = v.regex.pattern
        elif isinstance(v, DistinctNames):
            out["minItems"] = v.minimum
            out["uniqueItems"] = True
    if field.metadata.get("widget"):
        out["x-widget"] = field.metadata["widget"]
    # A field may describe its shape further than its type says (e.g. the rows of a table field).
    out.update(field.metadata.get("json_schema") or {})
    if field.allow_none and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def json_schema(form_key: str | None) -> dict:
    """JSON Schema of a form for the task UI and the API; ``x-order`` keeps the fields in declaration order."""
    form = get_form(form_key)
    schema = form.schema()
    properties = {name: _field_schema(field) for name, field in schema.fields.items()}
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": form.title,
        "properties": properties,
        "required": [name for name, field in schema.fields.items() if field.required],
        "x-order": list(properties),
        # Undeclared fields are dropped on the server; telling clients not to send them keeps UIs honest.
        "additionalProperties": schema.unknown == INCLUDE,
    }
    return out

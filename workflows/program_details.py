"""Program-specific application fields (`details` of POST /cases): one marshmallow schema per program, registered
by the program's module (临时救助: kind, requested amount, reason; 助学: school and tuition …). A program without a
registered schema takes no details. Messages are Chinese and per field, like the household's."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from engine.errors import InvalidInput

DETAILS: dict[str, type[Schema]] = {}


def register_details(program: str, schema: type[Schema]) -> type[Schema]:
    DETAILS[program] = schema
    return schema


def load_details(program: str, payload) -> dict:
    """The cleaned, JSON-ready details of an application, or InvalidInput naming `details.<field>`."""
    schema = DETAILS.get(program)
    if schema is None:
        if payload not in (None, {}):
            raise InvalidInput("申请信息有误", {"details": ["该项目不需要填写 details"]})
        return {}
    if not isinstance(payload, dict):
        raise InvalidInput("申请信息有误", {"details": ["须为对象（JSON object），填写该项目的申请信息"]})
    try:
        data = schema().load(payload)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        raise InvalidInput("申请信息有误", {f"details.{k}": v for k, v in messages.items()}) from exc
    from .cases import _json_ready  # the same JSON-ready rule as the household

    return _json_ready(data)


# -- the staff application page renders a program's details from its schema ------------------------------------

_KINDS = (
    (fields.Boolean, "boolean"), (fields.Decimal, "decimal"), (fields.Float, "decimal"), (fields.Integer, "integer"),
    (fields.Date, "date"), (fields.String, "text"),
)


def describe(program: str) -> list[dict]:
    """The page's inputs for a program's details: the schema's scalar fields, each with its label (the field's
    `metadata["label"]`, else its name), kind, choices and whether it is required. Lists and nested objects are
    left to the API."""
    schema = DETAILS.get(program)
    if schema is None:
        return []
    out = []
    for name, field in schema().fields.items():
        kind = next((k for cls, k in _KINDS if isinstance(field, cls)), None)
        if kind is None or field.dump_only:
            continue
        choices = None
        for check in _validators(field):
            if isinstance(check, validate.OneOf):
                choices = [(str(c), str(label)) for c, label in zip(check.choices, check.labels or check.choices,
                                                                   strict=False)]
        out.append({"name": name, "label": field.metadata.get("label") or name, "kind": kind,
                    "choices": choices, "required": field.required, "help": field.metadata.get("help")})
    return out


def _validators(field) -> list:
    found = field.validators if isinstance(field.validators, list | tuple) else [field.validators]
    return [v for v in found if v is not None]


def details_from_form(program: str, form) -> dict:
    """The chosen program's details from the page's `details.<program>.<field>` inputs (blank ones left out)."""
    out: dict = {}
    for item in describe(program):
        raw = form.get(f"details.{program}.{item['name']}")
        if item["kind"] == "boolean":
            if raw is not None:
                out[item["name"]] = raw in ("1", "true", "on", "yes")
            continue
        text = (raw or "").strip()
        if text:
            out[item["name"]] = text.replace(",", "") if item["kind"] in ("decimal", "integer") else text
    return out

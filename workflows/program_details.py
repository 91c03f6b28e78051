"""Program-specific application fields (`details` of POST /cases): one marshmallow schema per program, registered
by the program's module (临时救助: kind, requested amount, reason; 助学: school and tuition …). A program without a
registered schema takes no details. Messages are Chinese and per field, like the household's."""
from __future__ import annotations

from marshmallow import Schema, ValidationError

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

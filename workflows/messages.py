"""The one catalog of Chinese validation messages: every schema (API bodies, query strings, task forms, case
forms), the login checks and the pages say a problem in the same words.

marshmallow reads its messages from class attributes when a field or validator is created, so `install()` runs
once, when `workflows` is first imported, before any schema exists. Code that writes a message by hand (the login
check, request-body checks) takes the wording from the constants here. `translate()` turns a message marshmallow
still produced in English (a schema built before `install()`) into the catalog's wording.
"""
from __future__ import annotations

import re

from marshmallow import Schema, fields, validate

REQUIRED = "此项为必填项"
EMPTY = "不能为空"
INVALID = "取值无效"
NOT_TEXT = "应为文本"
NOT_UTF8 = "应为有效的 UTF-8 文本"
NOT_INTEGER = "应为整数"
NOT_NUMBER = "应为数字"
TOO_LARGE = "数字过大"
NOT_FINITE = "不能是 NaN 或无穷大"
NOT_BOOLEAN = "应为是或否"
NOT_DATE = "日期格式应为 YYYY-MM-DD"
NOT_DATETIME = "应为时间（ISO 8601）"
NEEDS_TIMEZONE = "时间须带时区"
NOT_LIST = "应为列表"
NOT_OBJECT = "应为 JSON 对象"
UNKNOWN_FIELD = "未知字段"
BAD_FORMAT = "格式不正确"
BAD_URL = "不是合法的网址"
BAD_EMAIL = "不是合法的电子邮箱"
ONE_OF = "应为以下之一：{choices}"
LENGTH_MIN = "长度不能少于 {min}"
LENGTH_MAX = "长度不能超过 {max}"
LENGTH_BETWEEN = "长度须在 {min} 到 {max} 之间"
LENGTH_EQUAL = "长度须为 {equal}"
RANGE_MIN = "须{min_op} {{min}}"
RANGE_MAX = "须{max_op} {{max}}"
RANGE_BETWEEN = "须{min_op} {{min}} 且{max_op} {{max}}"
RANGE_OPS = {"gte": "大于或等于", "gt": "大于", "lte": "小于或等于", "lt": "小于"}
# Whole-request messages.
FORM_NOT_OBJECT = "表单数据应为对象"
BODY_NOT_OBJECT = "请求体须为 JSON 对象"
LOGIN_INCOMPLETE = "请填写用户名和密码"
FORM_TOO_LARGE = "表单数据过大：不能超过 {limit} KB"
CONTENT_TOO_LARGE = "内容过大：不能超过 {limit} KB"
TOO_MANY_ITEMS = "项目不能超过 {max} 个"

FIELD_MESSAGES: dict[type, dict[str, str]] = {
    fields.Field: {"required": REQUIRED, "null": EMPTY, "validator_failed": INVALID},
    fields.String: {"invalid": NOT_TEXT, "invalid_utf8": NOT_UTF8},
    fields.Integer: {"invalid": NOT_INTEGER},
    fields.Number: {"invalid": NOT_NUMBER, "too_large": TOO_LARGE},
    fields.Decimal: {"special": NOT_FINITE},
    fields.Float: {"special": NOT_FINITE},
    fields.Boolean: {"invalid": NOT_BOOLEAN},
    fields.Date: {"invalid": NOT_DATE, "format": "无法格式化为日期"},
    fields.DateTime: {"invalid": NOT_DATETIME, "invalid_awareness": NEEDS_TIMEZONE, "format": "无法格式化为时间"},
    fields.List: {"invalid": NOT_LIST},
    fields.Dict: {"invalid": NOT_OBJECT},
    fields.Mapping: {"invalid": NOT_OBJECT},
    fields.Nested: {"type": NOT_OBJECT},
    fields.Url: {"invalid": BAD_URL},
    fields.Email: {"invalid": BAD_EMAIL},
}
SCHEMA_MESSAGES = {"type": NOT_OBJECT, "unknown": UNKNOWN_FIELD}

# marshmallow's English wording → ours, filled by install() from the defaults it replaces.
_ENGLISH: dict[str, str] = {}
_ENGLISH_PATTERNS: list[tuple[re.Pattern[str], str]] = []


def _learn(english: str, chinese: str) -> None:
    if "{" not in english:
        _ENGLISH[english] = chinese
        return
    pattern = re.escape(english)
    for name in ("min", "max", "equal", "choices", "input"):
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>.+?)")
    _ENGLISH_PATTERNS.append((re.compile(f"^{pattern}$"), chinese))
    # Longest template first: "Must be ≥ {min}." would otherwise swallow "Must be ≥ {min} and ≤ {max}.".
    _ENGLISH_PATTERNS.sort(key=lambda item: -len(item[0].pattern))


def _range_templates(at_least: str, at_most: str, between: str, ops: dict[str, str]) -> list[str]:
    """Range's three templates with every combination of inclusive and exclusive bounds filled in."""
    out = []
    for low in ("gte", "gt"):
        out.append(at_least.format(min_op=ops[low]))
        out += [between.format(min_op=ops[low], max_op=ops[high]) for high in ("lte", "lt")]
    out += [at_most.format(max_op=ops[high]) for high in ("lte", "lt")]
    return out


def install() -> None:
    """Put the catalog into marshmallow's class defaults (idempotent)."""
    if _ENGLISH:
        return
    for cls, messages in FIELD_MESSAGES.items():
        for key, chinese in messages.items():
            english = cls.default_error_messages.get(key)
            if isinstance(english, str):
                _learn(english, chinese)
        cls.default_error_messages = {**cls.default_error_messages, **messages}
    for key, chinese in SCHEMA_MESSAGES.items():
        _learn(Schema._default_error_messages[key], chinese)  # type: ignore[attr-defined]
    Schema._default_error_messages = dict(SCHEMA_MESSAGES)  # type: ignore[attr-defined]

    length = validate.Length
    for attr, chinese in (("message_min", LENGTH_MIN), ("message_max", LENGTH_MAX), ("message_all", LENGTH_BETWEEN),
                          ("message_equal", LENGTH_EQUAL)):
        _learn(getattr(length, attr), chinese)
        setattr(length, attr, chinese)

    rng = validate.Range
    english = _range_templates(rng.message_min, rng.message_max, rng.message_all,
                               {op: getattr(rng, f"message_{op}") for op in RANGE_OPS})
    chinese = _range_templates(RANGE_MIN, RANGE_MAX, RANGE_BETWEEN, RANGE_OPS)
    for english_text, chinese_text in zip(english, chinese, strict=True):
        _learn(english_text, chinese_text)
    rng.message_min, rng.message_max, rng.message_all = RANGE_MIN, RANGE_MAX, RANGE_BETWEEN
    for op, chinese in RANGE_OPS.items():
        setattr(rng, f"message_{op}", chinese)

    for validator, chinese in ((validate.OneOf, ONE_OF), (validate.Regexp, BAD_FORMAT), (validate.URL, BAD_URL)):
        _learn(validator.default_message, chinese)
        validator.default_message = chinese


def translate(message: object) -> str:
    """One message in the catalog's wording (messages already in Chinese pass through)."""
    text = str(message)
    if text in _ENGLISH:
        return _ENGLISH[text]
    for pattern, chinese in _ENGLISH_PATTERNS:
        match = pattern.match(text)
        if match:
            return chinese.format(**match.groupdict())
    return text


install()

"""Chinese validation messages for every marshmallow schema of the app (API bodies, query strings, forms).

marshmallow reads these class attributes when a field or validator is created, so `install()` runs once before the
schemas are used; schemas that set their own messages (workflows/forms.py) keep them.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

FIELD_MESSAGES: dict[type, dict[str, str]] = {
    fields.Field: {"required": "必填", "null": "不能为空", "validator_failed": "取值无效"},
    fields.String: {"invalid": "应为文本", "invalid_utf8": "应为有效的 UTF-8 文本"},
    fields.Integer: {"invalid": "应为整数"},
    fields.Number: {"invalid": "应为数字", "too_large": "数字过大"},
    fields.Decimal: {"special": "不接受 NaN 或无穷大"},
    fields.Float: {"special": "不接受 NaN 或无穷大"},
    fields.Boolean: {"invalid": "应为是或否（true/false）"},
    fields.Date: {"invalid": "应为日期（YYYY-MM-DD）", "format": "无法格式化为日期"},
    fields.DateTime: {"invalid": "应为时间（ISO 8601）", "invalid_awareness": "时间须带时区",
                      "format": "无法格式化为时间"},
    fields.List: {"invalid": "应为列表"},
    fields.Dict: {"invalid": "应为对象"},
    fields.Mapping: {"invalid": "应为对象"},
    fields.Nested: {"type": "应为对象"},
    fields.Url: {"invalid": "不是合法的网址"},
    fields.Email: {"invalid": "不是合法的电子邮箱"},
}


def install() -> None:
    for cls, messages in FIELD_MESSAGES.items():
        cls.default_error_messages = {**cls.default_error_messages, **messages}
    Schema._default_error_messages = {"type": "应为 JSON 对象", "unknown": "未知字段"}  # type: ignore[attr-defined]
    validate.Length.message_min = "长度不能少于 {min}"
    validate.Length.message_max = "长度不能超过 {max}"
    validate.Length.message_all = "长度须在 {min} 到 {max} 之间"
    validate.Length.message_equal = "长度须为 {equal}"
    validate.Range.message_min = "须{min_op} {{min}}"
    validate.Range.message_max = "须{max_op} {{max}}"
    validate.Range.message_all = "须{min_op} {{min}} 且{max_op} {{max}}"
    validate.Range.message_gte = "大于或等于"
    validate.Range.message_gt = "大于"
    validate.Range.message_lte = "小于或等于"
    validate.Range.message_lt = "小于"
    validate.OneOf.default_message = "须为以下之一：{choices}"
    validate.Regexp.default_message = "格式不正确"
    validate.URL.default_message = "不是合法的网址"


install()

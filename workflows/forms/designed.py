"""Designed forms: a form-js schema (the designers' form editor) read once into field rules, which then validate
every submission on the server and describe the form to the task page as the same JSON Schema the registered
(marshmallow) forms give.

The browser is never trusted: the rules come from the stored schema, not from what the page sent. Supported
components are the keyed inputs the task page can show — ``textfield``, ``textarea``, ``number``, ``datetime``
(date), ``select``, ``radio``, ``checkbox`` — with ``validate {required, min, max, minLength, maxLength, pattern,
validationType}``, static ``values`` options, ``decimalDigits`` / ``increment`` on numbers and
``conditional.hide`` in the FEEL subset of :mod:`.designed_conditions`. Anything else (containers, dynamic options,
FEEL in a rule, read-only fields) is refused when the form is saved, each problem naming its component, so a
saved form always means exactly what the server enforces.

Cleaned data follows the registered forms' rules (workflows.forms.registry): undeclared keys are dropped, every
declared field comes back (``None`` when empty or hidden) so an earlier step's value is never mistaken for this
step's answer, and a hidden field's input is ignored.
"""
from __future__ import annotations

import datetime as dt
import json
import keyword
import re
import re._parser as re_parser  # the stdlib's own parser: the pattern checked is the one compiled
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from .. import messages
from .designed_conditions import Condition, ConditionError, parse_condition
from .registry import MAX_FORM_BYTES, FormError, _json_size
from .toolkit import MAX_TEXT

MAX_COMPONENTS = 200
MAX_SCHEMA_BYTES = 64 * 1024
MAX_OPTIONS = 200
# A designer's pattern runs on every submission: short, and without nested quantifiers (_backtracks).
MAX_PATTERN = 200
# The smallest step a number may have: below it `value % increment` needs more than any precision we keep.
MIN_INCREMENT = Decimal("0.000001")
# Submitted numbers go into task data as JSON numbers (floats); up to 15 significant digits a float gives back
# exactly the decimal that was typed (repr round trip), so more are refused rather than silently rounded.
MAX_SIGNIFICANT = 15
LARGEST = Decimal("1e15")  # a form number beyond this is a typing accident, not an amount

INPUT_TYPES = ("textfield", "textarea", "number", "datetime", "select", "radio", "checkbox")
TYPE_NAMES = {"textfield": "文本框", "textarea": "多行文本", "number": "数字", "datetime": "日期",
              "select": "下拉选择", "radio": "单选", "checkbox": "勾选框"}
FIELD_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# The data every case's process starts with (POST /cases): a form field of that name would overwrite it.
RESERVED_KEYS = frozenset({"case_id", "program", "program_name", "lead_agency", "details", "district", "street",
                           "community", "applicant", "household", "local_standard", "topup_rates"})
# A Chinese mobile number or a landline with its area code; form-js' own phone rule is for international numbers.
PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_RULES = ("required", "min", "max", "minLength", "maxLength", "pattern", "validationType", "patternErrorMessage")


class DesignError(ValueError):
    """A schema that cannot be saved: ``problems`` are Chinese sentences, each naming its component."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("；".join(problems))


@dataclass(frozen=True)
class FieldRule:
    key: str
    type: str
    label: str
    description: str = ""
    required: bool = False
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    min_length: int | None = None
    max_length: int = MAX_TEXT
    pattern: re.Pattern[str] | None = None
    pattern_message: str | None = None
    validation_type: str | None = None  # email | phone
    options: tuple[tuple[Any, str], ...] = ()
    decimal_digits: int | None = None
    increment: Decimal | None = None
    not_before_today: bool = False
    hide: Condition | None = None


@dataclass(frozen=True)
class DesignedSchema:
    title: str
    fields: tuple[FieldRule, ...]


# --- reading a form-js schema (save time) ---------------------------------------------------------------------


def _literal_number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError
    if isinstance(value, str) and (value.strip().startswith("=") or not _NUMBER_TEXT.match(value.strip())):
        raise ValueError
    number = Decimal(str(value).strip())
    if not number.is_finite():
        raise ValueError
    return number


def _whole(value: Any, lowest: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ValueError
    return value


def _name_of(index: int, component: dict) -> str:
    label = component.get("label") or component.get("dateLabel") or component.get("key") or ""
    label = label if isinstance(label, str) else ""
    return f"第 {index + 1} 个组件" + (f"（{label[:30]}）" if label else "")


def _rule(index: int, component: dict, problems: list[str]) -> FieldRule | None:
    where = _name_of(index, component)
    kind = component.get("type")
    if kind not in INPUT_TYPES:
        problems.append(f"{where}：不支持“{kind}”类组件，只支持 " + "、".join(TYPE_NAMES.values()))
        return None
    key = component.get("key")
    if not isinstance(key, str) or not FIELD_KEY.match(key):
        problems.append(f"{where}：字段标识（key）须以字母开头，只含字母、数字和下划线，不超过 64 个字符")
        return None
    if key in RESERVED_KEYS or keyword.iskeyword(key) or _is_function_name(key):
        problems.append(f"{where}：字段标识 {key} 是流程已使用的名称，请换一个")
        return None
    if component.get("disabled") or component.get("readonly"):
        problems.append(f"{where}：暂不支持只读或禁用的字段")
    given = component.get("dateLabel") if kind == "datetime" else component.get("label")
    label: str = given.strip() if isinstance(given, str) and given.strip() else key
    raw_description = component.get("description")
    description: str = raw_description if isinstance(raw_description, str) else ""
    rules = component.get("validate") or {}
    if not isinstance(rules, dict):
        problems.append(f"{where}：校验规则（validate）格式不正确")
        rules = {}
    fields: dict[str, Any] = {"key": key, "type": kind, "label": label[:200], "description": description[:500]}
    for name, value in rules.items():
        if isinstance(value, str) and value.strip().startswith("=") and name != "pattern":
            problems.append(f"{where}：校验规则 {name} 须为固定值，不支持表达式")
            return None
        if name not in _RULES:
            problems.append(f"{where}：不支持校验规则 {name}")
    fields["required"] = rules.get("required") is True
    try:
        if kind == "number":
            for name, target in (("min", "minimum"), ("max", "maximum")):
                if rules.get(name) not in (None, ""):
                    fields[target] = _literal_number(rules[name])
            if component.get("decimalDigits") not in (None, ""):
                fields["decimal_digits"] = _whole(component["decimalDigits"])
            if component.get("increment") not in (None, ""):
                step = _literal_number(component["increment"])
                if step is None or step <= 0:
                    raise ValueError
                if step < MIN_INCREMENT:
                    problems.append(f"{where}：步长不能小于 {MIN_INCREMENT:f}")
                    return None
                fields["increment"] = step
        if kind in ("textfield", "textarea"):
            if rules.get("minLength") not in (None, ""):
                fields["min_length"] = _whole(rules["minLength"])
            if rules.get("maxLength") not in (None, ""):
                fields["max_length"] = min(_whole(rules["maxLength"], 1), MAX_TEXT)
    except (ValueError, InvalidOperation):
        problems.append(f"{where}：数值规则（最小值、最大值、长度、小数位数、步长）须为数字")
        return None
    if fields.get("minimum") is not None and fields.get("maximum") is not None \
            and fields["minimum"] > fields["maximum"]:
        problems.append(f"{where}：最小值大于最大值")
    if (fields.get("min_length") or 0) > fields.get("max_length", MAX_TEXT):
        problems.append(f"{where}：最小长度大于最大长度")
    if kind in ("textfield", "textarea"):
        _text_rules(where, rules, fields, problems)
    if kind in ("select", "radio"):
        fields["options"] = _options(where, component, problems)
    if kind == "datetime":
        if (component.get("subtype") or "date") != "date":
            problems.append(f"{where}：日期时间组件目前只支持“日期”（subtype: date）")
        fields["not_before_today"] = component.get("disallowPassedDates") is True
    return FieldRule(**fields)


def _is_function_name(key: str) -> bool:
    # A task-data key named like a script function would make the function uncallable (SpiffWorkflow refuses it).
    from ..functions import FUNCTIONS  # late: the functions module imports much of the domain
    return key in FUNCTIONS


def _text_rules(where: str, rules: dict, fields: dict, problems: list[str]) -> None:
    kind = rules.get("validationType")
    if kind in ("email", "phone"):
        fields["validation_type"] = kind
    elif kind not in (None, "", "custom"):
        problems.append(f"{where}：不支持校验类型 {kind}（可用：email、phone、custom）")
    pattern = rules.get("pattern")
    if pattern in (None, ""):
        return
    if not isinstance(pattern, str) or pattern.strip().startswith("=") or len(pattern) > MAX_PATTERN:
        problems.append(f"{where}：正则表达式须为不超过 {MAX_PATTERN} 个字符的固定文本")
        return
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        problems.append(f"{where}：正则表达式有误（{exc.msg}）")
        return
    if _backtracks(pattern):
        problems.append(f"{where}：正则表达式不能嵌套重复（如 (a+)+），这类写法校验时可能耗时极长，请改写")
        return
    fields["pattern"] = compiled
    message = rules.get("patternErrorMessage")
    if isinstance(message, str) and message.strip():
        fields["pattern_message"] = message.strip()[:200]


_REPEATS = (re_parser.MAX_REPEAT, re_parser.MIN_REPEAT, re_parser.POSSESSIVE_REPEAT)


def _subpatterns(value: Any):
    """The parsed sub-patterns inside a node's argument (groups, branches, lookarounds …), at any depth."""
    if isinstance(value, re_parser.SubPattern):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _subpatterns(item)


def _variable(op: Any, av: Any) -> bool:
    # A repeat whose count varies ({2,5}, *, +, ?): a fixed count ({3}) leaves the engine no choice to backtrack.
    return op in _REPEATS and av[0] != av[1]


def _has_variable_repeat(items) -> bool:
    return any(_variable(op, av) or any(_has_variable_repeat(sub) for sub in _subpatterns(av)) for op, av in items)


def _nested_repeat(items) -> bool:
    for op, av in items:
        if _variable(op, av) and av[1] > 1 and _has_variable_repeat(av[2]):
            return True
        if any(_nested_repeat(sub) for sub in _subpatterns(av)):
            return True
    return False


def _backtracks(pattern: str) -> bool:
    """Whether `pattern` repeats something that itself repeats a varying number of times ((a+)+, (\\d*x?)*,
    (a{1,30}){1,30}): such a pattern can take exponential time on a near-miss (ReDoS). A structural check on
    the parsed pattern; it does not catch overlapping alternatives like (a|a)+."""
    try:
        return _nested_repeat(re_parser.parse(pattern))
    except (re.error, RecursionError):
        return True


def _options(where: str, component: dict, problems: list[str]) -> tuple[tuple[Any, str], ...]:
    if component.get("valuesKey") or component.get("valuesExpression"):
        problems.append(f"{where}：选项须在表单中逐项列出，不支持从流程变量或表达式取选项")
        return ()
    values = component.get("values")
    if not isinstance(values, list) or not values:
        problems.append(f"{where}：请至少设置一个选项")
        return ()
    if len(values) > MAX_OPTIONS:
        problems.append(f"{where}：选项不能超过 {MAX_OPTIONS} 个")
        return ()
    out: list[tuple[Any, str]] = []
    for option in values:
        value = option.get("value") if isinstance(option, dict) else None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
            problems.append(f"{where}：选项的值须为非空文本或数字")
            return ()
        label = option.get("label")
        out.append((value, label if isinstance(label, str) and label else str(value)))
    if len({str(v) for v, _ in out}) != len(out):
        problems.append(f"{where}：选项的值重复")
    return tuple(out)


def read_schema(schema: Any, *, title: str | None = None) -> DesignedSchema:
    """The rules of a form-js schema; raise :class:`DesignError` listing every problem."""
    if not isinstance(schema, dict):
        raise DesignError(["表单定义须为 form-js 的 JSON 对象"])
    size = len(json.dumps(schema, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    if size > MAX_SCHEMA_BYTES:
        raise DesignError([f"表单定义过大：不能超过 {MAX_SCHEMA_BYTES // 1024} KB"])
    components = schema.get("components")
    if not isinstance(components, list):
        raise DesignError(["表单定义缺少组件列表（components）"])
    if len(components) > MAX_COMPONENTS:
        raise DesignError([f"组件不能超过 {MAX_COMPONENTS} 个"])
    found: dict[int, list[str]] = {}  # problems by component, reported in the form's order
    rules: list[FieldRule] = []
    conditions: list[tuple[int, dict]] = []
    for index, component in enumerate(components):
        problems = found.setdefault(index, [])
        if not isinstance(component, dict):
            problems.append(f"第 {index + 1} 个组件格式不正确")
            continue
        rule = _rule(index, component, problems)
        if rule is None:
            continue
        if any(r.key == rule.key for r in rules):
            problems.append(f"{_name_of(index, component)}：字段标识 {rule.key} 重复")
            continue
        rules.append(rule)
        conditions.append((index, component))
    keys = {r.key for r in rules}
    for position, (index, component) in enumerate(conditions):
        condition = _hide_condition(index, component, keys, found[index])
        if condition is not None:
            rules[position] = replace(rules[position], hide=condition)
    problems = [p for index in sorted(found) for p in found[index]]
    if not rules and not problems:
        problems.append("表单至少需要一个输入字段")
    if problems:
        raise DesignError(problems)
    name = title or (schema.get("name") if isinstance(schema.get("name"), str) else None) or ""
    return DesignedSchema(name, tuple(rules))


def _hide_condition(index: int, component: dict, keys: set[str], problems: list[str]) -> Condition | None:
    conditional = component.get("conditional")
    hide = conditional.get("hide") if isinstance(conditional, dict) else None
    if hide in (None, ""):
        return None
    try:
        condition = parse_condition(hide)
    except ConditionError as exc:
        problems.append(f"{_name_of(index, component)}：隐藏条件 {str(hide)[:60]} 无法使用：{exc}")
        return None
    unknown = sorted(condition.names - keys)
    if unknown:
        problems.append(f"{_name_of(index, component)}：隐藏条件引用了本表单没有的字段 {'、'.join(unknown)}")
        return None
    return condition


# --- validating a submission ----------------------------------------------------------------------------------


def _number_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def _coerce(rule: FieldRule, value: Any) -> tuple[Any, str | None]:
    """(value, error) for one submitted value, before the field's rules; None is "not answered"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if rule.type in ("textfield", "textarea"):
        if not isinstance(value, str):
            return None, messages.NOT_TEXT
        return value.strip(), None
    if rule.type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None, messages.NOT_NUMBER
        text = value.strip().replace(",", "") if isinstance(value, str) else str(value)
        if isinstance(value, str) and not _NUMBER_TEXT.match(text):
            return None, messages.NOT_NUMBER
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, messages.NOT_NUMBER
        if not number.is_finite():
            return None, messages.NOT_FINITE
        if abs(number) >= LARGEST:
            return None, messages.TOO_LARGE
        if len(number.normalize().as_tuple().digits) > MAX_SIGNIFICANT:
            return None, f"有效数字不能超过 {MAX_SIGNIFICANT} 位"
        return number, None
    if rule.type == "checkbox":
        if isinstance(value, bool):
            return value, None
        return None, messages.NOT_BOOLEAN
    if rule.type == "datetime":
        text = value.strip() if isinstance(value, str) else ""
        try:
            if len(text) == 10:  # YYYY-MM-DD only: fromisoformat would also take 20240101
                return dt.date.fromisoformat(text), None
        except ValueError:
            pass
        return None, messages.NOT_DATE
    for option, _label in rule.options:  # select, radio
        if value == option or (isinstance(value, (str, int, float)) and not isinstance(value, bool)
                               and str(value) == str(option)):
            return option, None
    return None, messages.ONE_OF.format(choices="、".join(label for _v, label in rule.options))


def _check(rule: FieldRule, value: Any, today: dt.date | None) -> list[str]:
    if value is None or (value is False and rule.type == "checkbox"):  # an unticked box is no answer
        if rule.required:
            return ["须确认此项" if rule.type == "checkbox" else messages.REQUIRED]
        return []
    errors = []
    if isinstance(value, Decimal):
        if rule.minimum is not None and value < rule.minimum:
            errors.append(f"不能小于 {_number_text(rule.minimum)}")
        if rule.maximum is not None and value > rule.maximum:
            errors.append(f"不能大于 {_number_text(rule.maximum)}")
        exponent = value.normalize().as_tuple().exponent
        if rule.decimal_digits is not None and isinstance(exponent, int) and -exponent > rule.decimal_digits:
            errors.append("须为整数" if rule.decimal_digits == 0 else f"最多保留 {rule.decimal_digits} 位小数")
        if rule.increment is not None and not _multiple_of(value, rule.increment):
            errors.append(f"须为 {_number_text(rule.increment)} 的整数倍")
    if isinstance(value, str):
        if rule.min_length is not None and len(value) < rule.min_length:
            errors.append(messages.LENGTH_MIN.format(min=rule.min_length))
        if len(value) > rule.max_length:
            errors.append(messages.LENGTH_MAX.format(max=rule.max_length))
        elif rule.pattern is not None and not rule.pattern.search(value):
            errors.append(rule.pattern_message or messages.BAD_FORMAT)
        if rule.validation_type == "email" and not EMAIL.match(value):
            errors.append(messages.BAD_EMAIL)
        if rule.validation_type == "phone" and not PHONE.match(value):
            errors.append("不是有效的电话号码（手机号 11 位，固定电话带区号）")
    if isinstance(value, dt.date) and rule.not_before_today and today is not None and value < today:
        errors.append("不能早于今天")
    return errors


def _multiple_of(value: Decimal, step: Decimal) -> bool:
    """value % step == 0 with enough precision for any value below LARGEST and step ≥ MIN_INCREMENT (the default
    28 digits raise InvalidOperation on a big quotient); a value still beyond it is not a multiple, never a 500."""
    with localcontext() as context:
        context.prec = 60
        try:
            return value % step == 0
        except InvalidOperation:
            return False


def _json_value(value: Any) -> Any:
    # Exact: _coerce keeps numbers within MAX_SIGNIFICANT digits, which a float gives back as typed (1200.5 stays
    # 1200.5). Numbers, not strings: gateway conditions and scripts compare them with numbers.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def hidden_fields(form: DesignedSchema, values: dict) -> set[str]:
    """The fields whose hide condition holds, walking the form in order as form-js does: a hidden field's value
    is gone for the conditions after it."""
    context = dict(values)
    hidden = set()
    for rule in form.fields:
        if rule.hide is not None and rule.hide.is_true(context):
            hidden.add(rule.key)
            context.pop(rule.key, None)
    return hidden


def validate_designed(form: DesignedSchema, data: Any, *, today: dt.date | None = None) -> dict:
    """Clean a submission against the form's rules; raise FormError with per-field Chinese messages."""
    if not isinstance(data, dict):
        raise FormError({"_schema": [messages.FORM_NOT_OBJECT]})
    if _json_size(data) > MAX_FORM_BYTES:
        raise FormError({"_schema": [messages.FORM_TOO_LARGE.format(limit=MAX_FORM_BYTES // 1024)]})
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for rule in form.fields:
        value, error = _coerce(rule, data.get(rule.key))
        values[rule.key] = value
        if error:
            errors[rule.key] = [error]
    # Conditions compare plain JSON values, as the browser holds them.
    hidden = hidden_fields(form, {k: _json_value(v) for k, v in values.items()})
    cleaned: dict[str, Any] = {}
    for rule in form.fields:
        if rule.key in hidden:
            errors.pop(rule.key, None)
            cleaned[rule.key] = None
            continue
        if rule.key not in errors:
            problems = _check(rule, values[rule.key], today)
            if problems:
                errors[rule.key] = problems
        cleaned[rule.key] = _json_value(values[rule.key])
    if errors:
        raise FormError({r.key: errors[r.key] for r in form.fields if r.key in errors})
    return cleaned


# --- describing the form to the task page and the API ---------------------------------------------------------


def json_schema_of(form: DesignedSchema, title: str) -> dict:
    """The JSON Schema the task page's renderer reads (as registry.json_schema gives for registered forms), with
    ``x-hide`` carrying each field's hide condition for the page's script."""
    properties: dict[str, dict] = {}
    for rule in form.fields:
        prop: dict[str, Any] = {"title": rule.label}
        if rule.description:
            prop["description"] = rule.description
        if rule.type in ("textfield", "textarea"):
            prop.update(type="string", maxLength=rule.max_length)
            if rule.min_length is not None:
                prop["minLength"] = rule.min_length
            if rule.pattern is not None:
                prop["pattern"] = rule.pattern.pattern
            if rule.type == "textarea":
                prop["x-widget"] = "textarea"
        elif rule.type == "number":
            prop["type"] = "integer" if rule.decimal_digits == 0 else "number"
            if rule.minimum is not None:
                prop["minimum"] = _json_value(rule.minimum)
            if rule.maximum is not None:
                prop["maximum"] = _json_value(rule.maximum)
        elif rule.type == "checkbox":
            prop["type"] = "boolean"
        elif rule.type == "datetime":
            prop.update(type="string", format="date")
        else:
            prop.update(enum=[v for v, _ in rule.options], **{"x-enumNames": [label for _, label in rule.options]})
        if rule.hide is not None:
            prop["x-hide"] = rule.hide.source
        properties[rule.key] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": title,
        "properties": properties,
        "required": [r.key for r in form.fields if r.required],
        "x-order": [r.key for r in form.fields],
        "additionalProperties": False,
    }

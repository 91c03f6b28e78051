"""Designed (form-js) forms in the domain: reading a schema at save time, validating submissions on the server
(required, ranges, lengths, patterns, options, conditional hide), and the versions a deployed process pins."""
from __future__ import annotations

import pytest

from tests.bpmn_samples import form_task
from workflows.forms.designed import (
    DesignError,
    hidden_fields,
    json_schema_of,
    read_schema,
    validate_designed,
)
from workflows.forms.designed_conditions import ConditionError, parse_condition
from workflows.forms.registry import FormError

XML = {"Content-Type": "application/xml"}

VISIT = {
    "type": "default", "id": "Form_visit", "schemaVersion": 18,
    "components": [
        {"type": "textfield", "key": "visitor", "label": "走访人", "id": "f1",
         "validate": {"required": True, "minLength": 2, "maxLength": 10}},
        {"type": "number", "key": "amount", "label": "核定金额", "id": "f2", "decimalDigits": 2,
         "validate": {"required": True, "min": 0, "max": 5000}},
        {"type": "select", "key": "kind", "label": "救助类型", "id": "f3",
         "values": [{"label": "急难型", "value": "emergency"}, {"label": "支出型", "value": "expense"}]},
        {"type": "textarea", "key": "reason", "label": "支出原因", "id": "f4", "validate": {"required": True},
         "conditional": {"hide": '=kind = "emergency"'}},
        {"type": "textfield", "key": "phone", "label": "联系电话", "id": "f5",
         "validate": {"validationType": "phone"}},
        {"type": "textfield", "key": "postcode", "label": "邮编", "id": "f6",
         "validate": {"pattern": r"^\d{6}$", "patternErrorMessage": "邮编为 6 位数字"}},
        {"type": "radio", "key": "home", "label": "是否在家", "id": "f7",
         "values": [{"label": "在家", "value": "yes"}, {"label": "不在家", "value": "no"}]},
        {"type": "checkbox", "key": "confirmed", "label": "已核实", "id": "f8", "validate": {"required": True}},
        {"type": "datetime", "key": "visit_day", "subtype": "date", "dateLabel": "走访日期", "id": "f9"},
    ],
}

GOOD = {"visitor": "王五", "amount": "1200.5", "kind": "expense", "reason": "住院", "phone": "13800138000",
        "postcode": "100000", "home": "yes", "confirmed": True, "visit_day": "2026-03-02"}


def _errors(data) -> dict:
    with pytest.raises(FormError) as info:
        validate_designed(read_schema(VISIT), data)
    return info.value.fields


# -- validation --------------------------------------------------------------------------------------------------

def test_designed__a_good_submission_is_cleaned():
    cleaned = validate_designed(read_schema(VISIT), {**GOOD, "unknown": "dropped", "visitor": "  王五 "})
    assert cleaned == {**GOOD, "amount": 1200.5}
    assert "unknown" not in cleaned


def test_designed__required_fields_each_say_so():
    errors = _errors({})
    assert errors == {"visitor": ["此项为必填项"], "amount": ["此项为必填项"], "reason": ["此项为必填项"],
                      "confirmed": ["须确认此项"]}


def test_designed__number_ranges_and_decimals():
    assert _errors({**GOOD, "amount": 5000.01}) == {"amount": ["不能大于 5000"]}
    assert _errors({**GOOD, "amount": -1}) == {"amount": ["不能小于 0"]}
    assert _errors({**GOOD, "amount": "1.234"}) == {"amount": ["最多保留 2 位小数"]}
    assert _errors({**GOOD, "amount": "一千"}) == {"amount": ["应为数字"]}
    assert _errors({**GOOD, "amount": True}) == {"amount": ["应为数字"]}
    assert validate_designed(read_schema(VISIT), {**GOOD, "amount": 5000})["amount"] == 5000


def test_designed__lengths_patterns_and_types():
    assert _errors({**GOOD, "visitor": "王"}) == {"visitor": ["长度不能少于 2"]}
    assert _errors({**GOOD, "visitor": "王" * 11}) == {"visitor": ["长度不能超过 10"]}
    assert _errors({**GOOD, "postcode": "1000"}) == {"postcode": ["邮编为 6 位数字"]}
    assert "phone" in _errors({**GOOD, "phone": "12345"})
    assert _errors({**GOOD, "visitor": 12}) == {"visitor": ["应为文本"]}
    assert _errors({**GOOD, "visit_day": "2026-02-30"}) == {"visit_day": ["日期格式应为 YYYY-MM-DD"]}
    assert _errors({**GOOD, "confirmed": "yes"}) == {"confirmed": ["应为是或否"]}


def test_designed__steps_emails_and_past_days():
    import datetime as dt

    form = read_schema({"components": [
        {"type": "number", "key": "hours", "label": "时长", "increment": "0.5"},
        {"type": "textfield", "key": "mail", "label": "邮箱", "validate": {"validationType": "email"}},
        {"type": "datetime", "key": "day", "subtype": "date", "dateLabel": "回访日期", "disallowPassedDates": True},
    ]})
    today = dt.date(2026, 3, 2)
    with pytest.raises(FormError) as info:
        validate_designed(form, {"hours": 1.2, "mail": "not-mail", "day": "2026-03-01"}, today=today)
    assert info.value.fields == {"hours": ["须为 0.5 的整数倍"], "mail": ["不是合法的电子邮箱"], "day": ["不能早于今天"]}
    assert validate_designed(form, {"hours": 1.5, "mail": "a@b.cn", "day": "2026-03-02"}, today=today) == {
        "hours": 1.5, "mail": "a@b.cn", "day": "2026-03-02"}


def test_designed__options_must_be_listed_ones():
    assert _errors({**GOOD, "kind": "other"}) == {"kind": ["应为以下之一：急难型、支出型"]}
    assert _errors({**GOOD, "home": "maybe"}) == {"home": ["应为以下之一：在家、不在家"]}


def test_designed__a_hidden_field_is_neither_required_nor_kept():
    cleaned = validate_designed(read_schema(VISIT), {**GOOD, "kind": "emergency", "reason": "ignored"})
    assert cleaned["reason"] is None
    cleaned = validate_designed(read_schema(VISIT), {**GOOD, "kind": "emergency", "reason": ""})
    assert cleaned["reason"] is None
    # Shown again when the condition does not hold: required once more.
    assert _errors({**GOOD, "kind": "expense", "reason": ""}) == {"reason": ["此项为必填项"]}


def test_designed__the_task_page_gets_a_json_schema():
    schema = json_schema_of(read_schema(VISIT), "走访登记")
    assert schema["x-order"][:3] == ["visitor", "amount", "kind"]
    assert schema["required"] == ["visitor", "amount", "reason", "confirmed"]
    assert schema["properties"]["amount"] == {"title": "核定金额", "type": "number", "minimum": 0, "maximum": 5000}
    assert schema["properties"]["kind"]["x-enumNames"] == ["急难型", "支出型"]
    assert schema["properties"]["reason"]["x-hide"] == '=kind = "emergency"'
    assert schema["properties"]["visit_day"]["format"] == "date"


# -- conditions --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, values, hidden", [
    ('=kind = "a"', {"kind": "a"}, True),
    ('=kind = "a"', {"kind": "b"}, False),
    ("=amount > 100", {"amount": 150}, True),
    ("=amount > 100", {"amount": None}, False),  # null compared: not true, the field stays shown
    ("=amount >= 100 and flag", {"amount": 100, "flag": True}, True),
    ("=amount >= 100 and flag", {"amount": 100, "flag": False}, False),
    ('=kind != "a" or amount < 0', {"kind": "a", "amount": -1}, True),
    ('=not(kind = "a")', {"kind": "b"}, True),
    ('=(kind = "a" or kind = "b") and amount <= 5', {"kind": "b", "amount": 5}, True),
    ("=kind = null", {}, True),
    ('=amount = "5"', {"amount": 5}, False),  # different types: null, not equal
])
def test_designed__conditions(source, values, hidden):
    assert parse_condition(source).is_true(values) is hidden


@pytest.mark.parametrize("source", ["kind = 1", "=", "=foo(1)", "=a + 1 > 2", "=a = ", '=a = "x" b', "=a in [1]",
                                    "=" + "a = 1 and " * 60 + "a = 1"])
def test_designed__other_feel_is_refused(source):
    with pytest.raises(ConditionError):
        parse_condition(source)


def test_designed__a_hidden_field_is_gone_for_later_conditions():
    schema = {"components": [
        {"type": "checkbox", "key": "a", "label": "A"},
        {"type": "textfield", "key": "b", "label": "B", "conditional": {"hide": "=a = true"}},
        {"type": "textfield", "key": "c", "label": "C", "conditional": {"hide": "=b = null"}},
    ]}
    form = read_schema(schema)
    assert hidden_fields(form, {"a": True, "b": "x"}) == {"b", "c"}
    assert hidden_fields(form, {"a": False, "b": "x"}) == set()


# -- save-time checks --------------------------------------------------------------------------------------------

def _problems(components) -> list[str]:
    with pytest.raises(DesignError) as info:
        read_schema({"components": components})
    return info.value.problems


def test_designed__unsupported_schemas_are_refused_naming_the_component():
    problems = _problems([
        {"type": "group", "label": "分组", "components": []},
        {"type": "textfield", "key": "case_id", "label": "案件"},
        {"type": "textfield", "key": "x", "label": "X", "conditional": {"hide": "=today() > 1"}},
        {"type": "textfield", "key": "y", "label": "Y", "conditional": {"hide": "=missing = 1"}},
        {"type": "number", "key": "n", "label": "N", "validate": {"min": "=limit"}},
        {"type": "select", "key": "s", "label": "S", "valuesKey": "options"},
        {"type": "textfield", "key": "p", "label": "P", "validate": {"pattern": "(unclosed"}},
        {"type": "textfield", "key": "p", "label": "P2"},
    ])
    assert problems[0].startswith("第 1 个组件（分组）：不支持“group”类组件")
    assert any("第 2 个组件（案件）" in p and "case_id" in p for p in problems)
    assert any("第 3 个组件（X）：隐藏条件" in p for p in problems)
    assert any("引用了本表单没有的字段 missing" in p for p in problems)
    assert any("第 5 个组件（N）" in p and "固定值" in p for p in problems)
    assert any("第 6 个组件（S）" in p and "逐项列出" in p for p in problems)
    assert any("第 7 个组件（P）：正则表达式有误" in p for p in problems)
    assert any("字段标识 p 重复" in p for p in problems)


def test_designed__size_limits():
    many = [{"type": "textfield", "key": f"f{i}", "label": str(i)} for i in range(201)]
    assert _problems(many) == ["组件不能超过 200 个"]
    big = [{"type": "textfield", "key": "f", "label": "x" * 70_000}]
    assert _problems(big) == ["表单定义过大：不能超过 64 KB"]
    assert _problems([]) == ["表单至少需要一个输入字段"]
    with pytest.raises(DesignError):
        read_schema(["not", "an", "object"])


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"(\w+\s?)+$", r"((ab)*c)*", r"(a{1,30}){1,30}", r"(a?)+"])
def test_designed__patterns_with_nested_repeats_are_refused_at_save(pattern):
    # ^(a+)+$ took seconds on 27 characters on every submission: refused when the form is saved.
    problems = _problems([{"type": "textfield", "key": "p", "label": "P", "validate": {"pattern": pattern}}])
    assert problems == ["第 1 个组件（P）：正则表达式不能嵌套重复（如 (a+)+），这类写法校验时可能耗时极长，请改写"]


def test_designed__ordinary_patterns_are_kept_and_long_ones_refused():
    for pattern in (r"^\d{6}$", r"(\d{3}-){2}\d{4}", r"^[A-Z]{2}\d+(-\d+)?$", r"^(男|女)+$"):
        form = read_schema({"components": [
            {"type": "textfield", "key": "p", "label": "P", "validate": {"pattern": pattern}}]})
        assert form.fields[0].pattern is not None, pattern
    problems = _problems([{"type": "textfield", "key": "p", "label": "P", "validate": {"pattern": "a" * 201}}])
    assert problems == ["第 1 个组件（P）：正则表达式须为不超过 200 个字符的固定文本"]


def test_designed__tiny_steps_are_refused_and_huge_quotients_are_a_field_error():
    assert _problems([{"type": "number", "key": "n", "label": "N", "increment": "0.0000001"}]) == [
        "第 1 个组件（N）：步长不能小于 0.000001"]
    form = read_schema({"components": [{"type": "number", "key": "n", "label": "N", "increment": "0.000001"}]})
    # 999999999999999 / 0.000001 has 21 digits, within the precision used: a multiple, checked without a 500.
    assert validate_designed(form, {"n": "999999999999999"}) == {"n": 999999999999999}
    assert validate_designed(form, {"n": "0.000003"}) == {"n": 0.000003}
    with pytest.raises(FormError) as info:
        validate_designed(form, {"n": "0.0000015"})
    assert info.value.fields == {"n": ["须为 0.000001 的整数倍"]}
    # A step saved before the rule (or anything past the precision) is a field error, never InvalidOperation.
    from decimal import Decimal

    from workflows.forms.designed import _multiple_of
    assert _multiple_of(Decimal("999999999999999"), Decimal("1e-50")) is False


def test_designed__numbers_are_kept_exactly_as_typed():
    form = read_schema({"components": [{"type": "number", "key": "n", "label": "N"}]})
    for typed, kept in (("1200.10", 1200.1), ("0.1", 0.1), ("99999999999.99", 99999999999.99), ("12", 12)):
        cleaned = validate_designed(form, {"n": typed})["n"]
        assert cleaned == kept and type(cleaned) is type(kept)
    # 17 significant digits would not survive the float in the task data: refused, not silently rounded.
    with pytest.raises(FormError) as info:
        validate_designed(form, {"n": "123456789012345.67"})
    assert info.value.fields == {"n": ["有效数字不能超过 15 位"]}


# -- pinning -----------------------------------------------------------------------------------------------------

def _schema(maximum: int) -> dict:
    return {"type": "default", "components": [
        {"type": "number", "key": "amount", "label": "金额", "validate": {"required": True, "max": maximum}}]}


def _task_of(login, key: str) -> int:
    clerk = login("jd_heping")
    started = clerk.post("process-instances", json={"process_key": key})
    assert started.status_code == 201, started.get_json()
    return started.get_json()["tasks"][0]["id"]


def test_designed__a_process_version_pins_its_form_version(login, app):
    designer = login("designer")
    assert designer.post("forms", json={"key": "visit_record", "schema": _schema(100)}).status_code == 201
    assert designer.post("process-definitions", data=form_task("visit_demo"), headers=XML).status_code == 201
    old_task = _task_of(login, "visit_demo")

    # Version 2 of the form; the diagram deployed again (changed) pins it for new cases only.
    assert designer.post("forms", json={"key": "visit_record", "schema": _schema(1000)}).get_json()["version"] == 2
    unchanged = designer.post("process-definitions", data=form_task("visit_demo"), headers=XML)
    assert unchanged.status_code == 200  # same diagram: no new process version, its pins unchanged
    assert designer.post("process-definitions", data=form_task("visit_demo", name="入户走访"),
                         headers=XML).status_code == 201
    new_task = _task_of(login, "visit_demo")

    clerk = login("jd_heping")
    assert clerk.get(f"tasks/{old_task}").get_json()["form"]["version"] == 1
    assert clerk.get(f"tasks/{new_task}").get_json()["form"]["version"] == 2
    for task_id in (old_task, new_task):
        assert clerk.post(f"tasks/{task_id}/claim").status_code == 200
    refused = clerk.post(f"tasks/{old_task}/complete", json={"data": {"amount": 500}})
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == {"amount": ["不能大于 100"]}
    assert clerk.post(f"tasks/{new_task}/complete", json={"data": {"amount": 500}}).status_code == 200
    assert clerk.post(f"tasks/{old_task}/complete", json={"data": {"amount": 80}}).status_code == 200

    with app.app_context():
        from sqlalchemy import select

        from engine.models import ProcessDefinition
        from web.extensions import db
        from workflows.forms.designed_models import DesignedFormPin

        pins = db.session.execute(select(ProcessDefinition.version, DesignedFormPin.form_version)
                                  .join(DesignedFormPin.definition).order_by(ProcessDefinition.version)).all()
        assert [tuple(p) for p in pins] == [(1, 1), (2, 2)]

"""workflows.forms: validation rules, Chinese messages, cleaned data and the generated JSON Schema."""
from __future__ import annotations

import json
import re
from datetime import date

import pytest

from workflows.forms import FORMS, FormDef, FormError, get_form, json_schema, validate_form

DIBAO_KEYS = {
    "dibao_accept", "dibao_relatives", "dibao_survey", "dibao_appraisal", "dibao_street_review",
    "dibao_spot_check", "dibao_approval", "dibao_payment_setup", "dibao_refusal_notice",
}
CJK = re.compile(r"[\u4e00-\u9fff]")

VALID = {
    "generic": {"note": "已电话联系", "count": 3},
    "review": {"decision": "approve"},
    "dibao_accept": {"decision": "accept"},
    "dibao_relatives": {"relatives_filed": False},
    "dibao_survey": {"investigators": ["张伟", "刘芳"], "income_items": [{"type": "wage", "amount": 1500}],
                     "findings": "属实"},
    "dibao_appraisal": {"representatives_present": 8, "representatives_total": 12, "result": "pass"},
    "dibao_street_review": {"decision": "approve", "opinion": "同意上报"},
    "dibao_spot_check": {"visited_on": "2024-03-20", "visitors": ["赵敏", "孙强"], "conclusion": "confirm"},
    "dibao_approval": {"decision": "approve"},
    "dibao_payment_setup": {"bank_name": "北京银行", "account_number": "6222020200112233445"},
    "dibao_refusal_notice": {"reason": "收入超标", "delivered_on": "2024-03-10"},
}


def errors(form_key, data) -> dict[str, list[str]]:
    with pytest.raises(FormError) as info:
        validate_form(form_key, data)
    return info.value.fields


def test_registry_has_every_form():
    assert DIBAO_KEYS | {"review", "generic"} <= set(FORMS)
    for key, form in FORMS.items():
        assert isinstance(form, FormDef) and form.key == key and CJK.search(form.title)


@pytest.mark.parametrize("key", sorted(VALID))
def test_valid_data_is_cleaned_to_json(key):
    cleaned = validate_form(key, VALID[key])
    json.dumps(cleaned)
    for name in VALID[key]:
        assert name in cleaned


def test_every_field_has_a_chinese_label_and_help():
    for key in DIBAO_KEYS | {"review"}:
        for name, field in FORMS[key].schema().fields.items():
            assert CJK.search(field.metadata["label"]), (key, name)
            assert CJK.search(field.metadata["help"]), (key, name)


def test_missing_form_key_means_generic_and_unknown_key_is_an_error():
    assert get_form(None).key == "generic" and get_form("").key == "generic"
    with pytest.raises(KeyError, match="未知表单"):
        get_form("no_such_form")


# --- decisions and opinions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["review", "dibao_street_review", "dibao_approval"])
def test_opinion_required_only_when_rejecting(key):
    assert validate_form(key, {"decision": "approve"})["opinion"] is None
    assert errors(key, {"decision": "reject"}) == {"opinion": ["不同意时必须填写意见"]}
    assert "opinion" in errors(key, {"decision": "reject", "opinion": "   "})
    cleaned = validate_form(key, {"decision": "reject", "opinion": "  收入超标  "})
    assert cleaned["opinion"] == "收入超标"


def test_decision_values():
    assert errors("review", {"decision": "accept"})["decision"] == ["应为以下之一：approve, reject"]
    assert errors("review", {})["decision"] == ["此项为必填项"]
    assert validate_form("dibao_accept", {"decision": "accept"})["decision"] == "accept"
    assert "decision" in errors("dibao_accept", {"decision": "approve"})
    assert errors("dibao_accept", {"decision": "reject"}) == {"opinion": ["不予受理时必须说明理由"]}


def test_opinion_error_is_reported_together_with_other_errors():
    found = errors("dibao_approval", {"decision": "reject", "amount": -5})
    assert set(found) == {"opinion", "amount"}


def test_undeclared_fields_are_dropped_and_non_objects_refused():
    cleaned = validate_form("review", {"decision": "approve", "investigators": ["张伟"], "x": object()})
    assert cleaned == {"decision": "approve", "opinion": None}
    assert errors("review", ["approve"]) == {"_schema": ["表单数据应为对象"]}


# --- per form --------------------------------------------------------------------------------------------------


def test_survey_needs_two_distinct_investigators():
    base = VALID["dibao_survey"]
    assert errors("dibao_survey", {**base, "investigators": ["张伟"]})["investigators"] == ["调查人员不少于 2 人"]
    assert errors("dibao_survey", {**base, "investigators": ["张伟", " 张伟 "]})["investigators"] == ["调查人员不能重复"]
    assert errors("dibao_survey", {**base, "investigators": ["张伟", " "]})["investigators"] == ["第 2 项：不能为空"]
    assert "investigators" in errors("dibao_survey", {**base, "investigators": "张伟,刘芳"})


def test_survey_income_and_date():
    base = VALID["dibao_survey"]
    def item(amount):
        return {**base, "income_items": [{"type": "wage", "amount": amount}]}

    assert errors("dibao_survey", item(-1)) == {"income_items-0-amount": ["不能为负数"]}
    assert errors("dibao_survey", item("很多")) == {"income_items-0-amount": ["应为数字"]}
    assert "income_items-0-amount" in errors("dibao_survey", item(True))
    assert validate_form("dibao_survey", item(0))["verified_monthly_income"] == 0
    # The total is computed from the items: a typed one is not a field of the form.
    cleaned = validate_form("dibao_survey", {**item(900), "verified_monthly_income": 1})
    assert cleaned["verified_monthly_income"] == 900
    cleaned = validate_form("dibao_survey", {**base, "visited_on": "2024-03-05"})
    assert cleaned["visited_on"] == "2024-03-05"
    assert validate_form("dibao_survey", {**base, "visited_on": date(2024, 3, 5)})["visited_on"] == "2024-03-05"
    assert validate_form("dibao_survey", base)["visited_on"] is None
    assert errors("dibao_survey", {**base, "visited_on": "2024-02-30"}) == {"visited_on": ["日期格式应为 YYYY-MM-DD"]}
    # The API contract names only investigators and income; findings are welcome but optional.
    minimal = {"investigators": ["张伟", "刘芳"], "income_items": []}
    assert validate_form("dibao_survey", minimal)["findings"] is None


@pytest.mark.parametrize("present, total, ok", [(8, 12, True), (7, 12, False), (2, 3, True), (1, 3, False),
                                                (12, 12, True), (13, 12, False)])
def test_appraisal_quorum_is_two_thirds(present, total, ok):
    data = {"representatives_present": present, "representatives_total": total, "result": "pass"}
    if ok:
        validate_form("dibao_appraisal", data)
    else:
        assert list(errors("dibao_appraisal", data)) == ["representatives_present"]


def test_appraisal_types_and_failure_opinion():
    base = VALID["dibao_appraisal"]
    assert errors("dibao_appraisal", {**base, "representatives_present": 8.5}) == {
        "representatives_present": ["应为整数"]}
    assert errors("dibao_appraisal", {**base, "result": "fail"}) == {"opinion": ["评议未通过时必须填写意见"]}
    assert "result" in errors("dibao_appraisal", {**base, "result": "ok"})


def test_spot_check():
    base = VALID["dibao_spot_check"]
    assert validate_form("dibao_spot_check", base)["visited_on"] == "2024-03-20"
    assert errors("dibao_spot_check", {**base, "conclusion": "dispute"}) == {"findings": ["存在疑问时必须说明抽查情况"]}
    assert errors("dibao_spot_check", {**base, "visitors": ["赵敏"]}) == {"visitors": ["抽查人员不少于 2 人"]}
    assert errors("dibao_spot_check", {k: v for k, v in base.items() if k != "visited_on"}) == {
        "visited_on": ["此项为必填项"]}


def test_approval_amount_override():
    assert validate_form("dibao_approval", {"decision": "approve"})["amount"] is None
    assert validate_form("dibao_approval", {"decision": "approve", "amount": 3000})["amount"] == 3000.0
    assert errors("dibao_approval", {"decision": "approve", "amount": 0}) == {"amount": ["核定金额必须大于 0"]}


def test_payment_setup():
    base = VALID["dibao_payment_setup"]
    cleaned = validate_form("dibao_payment_setup", {**base, "account_number": "6222 0202 0011 2233 445"})
    assert cleaned["account_number"] == "6222020200112233445"
    for bad in ["123456789", "1" * 26, "6222abc0200112233"]:
        assert errors("dibao_payment_setup", {**base, "account_number": bad}) == {
            "account_number": ["账号应为 10 到 25 位数字"]}
    # The first month paid is the register's to compute (the month after approval), never typed.
    assert "first_payment_month" not in validate_form("dibao_payment_setup", {**base, "first_payment_month": "2024-04"})
    assert errors("dibao_payment_setup", {**base, "bank_name": ""}) == {"bank_name": ["不能为空"]}


def test_refusal_notice_and_relatives():
    assert errors("dibao_refusal_notice", {"delivered_on": "2024-03-10"}) == {"reason": ["此项为必填项"]}
    assert errors("dibao_refusal_notice", {"reason": "  "}) == {"reason": ["不能为空"]}
    assert validate_form("dibao_refusal_notice", {"reason": "收入超标"})["delivered_on"] is None
    assert validate_form("dibao_relatives", {"relatives_filed": True, "note": "与社区干部为兄弟"}) == {
        "relatives_filed": True, "note": "与社区干部为兄弟"}
    assert errors("dibao_relatives", {"relatives_filed": "也许"}) == {"relatives_filed": ["应为是或否"]}
    assert errors("dibao_relatives", {}) == {"relatives_filed": ["此项为必填项"]}


def test_generic_form_accepts_any_json_object():
    assert validate_form("generic", {"a": {"b": [1, 2]}}) == {"a": {"b": [1, 2]}}
    assert validate_form(None, {}) == {}
    assert "_schema" in errors("generic", {"when": object()})


def test_form_error_message_lists_fields():
    with pytest.raises(FormError) as info:
        validate_form("review", {"decision": "reject"})
    assert "opinion" in str(info.value) and info.value.fields["opinion"]


# --- JSON Schema -----------------------------------------------------------------------------------------------


def test_json_schema_of_the_survey():
    schema = json_schema("dibao_survey")
    assert schema["type"] == "object" and schema["title"] == "入户调查"
    assert schema["x-order"] == ["investigators", "income_items", "findings", "visited_on"]
    assert schema["required"] == ["investigators", "income_items"]
    props = schema["properties"]
    assert props["investigators"]["type"] == "array" and props["investigators"]["minItems"] == 2
    assert props["investigators"]["items"]["type"] == "string"
    items = props["income_items"]
    assert items["type"] == "array" and items["title"] == "收入明细" and items["x-widget"] == "income-items"
    assert items["items"]["required"] == ["type", "amount"]
    assert "scholarship" in items["items"]["properties"]["type"]["enum"]
    assert props["visited_on"]["format"] == "date" and "null" in props["visited_on"]["type"]
    assert schema["additionalProperties"] is False


def test_json_schema_enums_patterns_and_labels():
    review = json_schema("dibao_street_review")["properties"]["decision"]
    assert review["enum"] == ["approve", "reject"] and review["x-enumNames"] == ["同意", "不同意"]
    assert review["title"] == "结论" and CJK.search(review["description"])
    pay = json_schema("dibao_payment_setup")["properties"]
    assert re.fullmatch(pay["account_number"]["pattern"], "6222020200112233445")
    assert "first_payment_month" not in pay
    appraisal = json_schema("dibao_appraisal")["properties"]
    assert appraisal["representatives_total"] == {**appraisal["representatives_total"], "type": "integer",
                                                  "minimum": 1}
    assert json_schema("dibao_approval")["properties"]["amount"]["exclusiveMinimum"] == 0
    assert json_schema("dibao_relatives")["properties"]["relatives_filed"]["type"] == "boolean"


@pytest.mark.parametrize("key", sorted(DIBAO_KEYS | {"review", "generic"}))
def test_json_schema_is_consistent(key):
    schema = json_schema(key)
    json.dumps(schema, ensure_ascii=False)
    assert schema["x-order"] == list(schema["properties"])
    assert set(schema["required"]) <= set(schema["properties"])
    for prop in schema["properties"].values():
        assert prop["title"] and prop["description"]

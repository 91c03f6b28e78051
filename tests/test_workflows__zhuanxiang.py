"""专项救助 and 人道慈善救助: the application details each program checks (per-field Chinese messages), the task forms,
and the catalog: one file of shared steps and eleven program processes, each deployed under its program key."""
from __future__ import annotations

import json
import re

import pytest

from tests.scenario import application, id_number
from tests.test_scenario__zhuanxiang import CASES
from workflows.forms import FORMS, FormError, json_schema, validate_form

CJK = re.compile(r"[\u4e00-\u9fff]")
ZHUANXIANG = list(CASES)
SHARED = ("zhuanxiang_street_verify", "zhuanxiang_status_check", "zhuanxiang_decision")
FORM_KEYS = {"zhuanxiang_street_verify", "zhuanxiang_status_check", "zhuanxiang_unit_opinion", "zhuanxiang_assess",
             "zhuanxiang_decide", "zhuanxiang_refusal_notice", "zhuyi_diagnosis", "zhuyi_insurance",
             "zhucan_assessment", "xinli_assessment"}


def refused_details(login, program: str, details) -> dict[str, list[str]]:
    response = login("jd_heping").post("cases", json=dict(application(), program=program, details=details))
    assert response.status_code == 422, response.get_json()
    return response.get_json()["error"]["fields"]


def with_(program: str, **changes) -> dict:
    details = dict(CASES[program][2])
    for key, value in changes.items():
        if value is None:
            details.pop(key, None)
        else:
            details[key] = value
    return details


# -- application details ----------------------------------------------------------------------------------------

def test_zhuanxiang__self_paid_must_be_the_bill_less_insurance(login):
    fields = refused_details(login, "zhuyi", with_("zhuyi", self_paid=20000))
    assert fields == {"details.self_paid": ["自付金额应等于总费用减去医保报销，即 18000.00 元"]}
    fields = refused_details(login, "zhuyi", with_("zhuyi", insurance_reimbursed=60000, self_paid=0))
    assert fields == {"details.insurance_reimbursed": ["医保报销金额不能超过医疗总费用"]}
    fields = refused_details(login, "zhuyi", with_("zhuyi", total_cost="很多", diagnosis=None))
    assert set(fields) == {"details.total_cost", "details.diagnosis"}
    assert all(CJK.search(m) for messages in fields.values() for m in messages)


@pytest.mark.parametrize(("program", "changes", "field", "needle"), [
    ("zhulao", {"elder_id_number": id_number("19800101")}, "details.elder_id_number", "60 周岁"),
    ("zhulao", {"elder_id_number": "123"}, "details.elder_id_number", "18 位"),
    ("zhulao", {"need": "旅游"}, "details.need", "应为以下之一"),
    ("zhuxue", {"stage": "博士"}, "details.stage", "学前、小学、初中、高中、中职、高校"),
    ("zhuxue", {"school": None}, "details.school", "必填"),
    ("zhuxue", {"tuition": 0, "fees": 0}, "details.tuition", "学费与杂费合计须大于 0 元"),
    ("zhuxue", {"tuition": -1}, "details.tuition", "不能为负数"),
    ("zhucan", {"disability_grade": 5}, "details.disability_grade", "1 至 4 级"),
    ("zhucan", {"aid_item": "现金"}, "details.aid_item", "辅具"),
    ("jiuye", {"wish": None}, "details.wish", "必填"),
    ("zhufang", {"requested_type": "商品房"}, "details.requested_type", "廉租、公租、修缮"),
    ("zhufang", {"area_per_person": -3}, "details.area_per_person", "人均住房面积"),
    ("jiuzai", {"occurred_on": "2026-04-01"}, "details.occurred_on", "不能晚于今天"),
    ("jiuzai", {"occurred_on": "去年"}, "details.occurred_on", "日期"),
    ("falv", {"opposing_party": "  "}, "details.opposing_party", "不能为空"),
    ("xinli", {"preferred_contact": "写信"}, "details.preferred_contact", "电话"),
    ("cishan", {"requested_amount": 0}, "details.requested_amount", "大于 0"),
    ("zhukun", {"hardship": "困" * 2001}, "details.hardship", "2000"),
    ("zhukun", {"bank_card": "6222"}, "details.bank_card", "未知字段"),
])
def test_zhuanxiang__details_refused_field_by_field(login, program, changes, field, needle):
    fields = refused_details(login, program, with_(program, **changes))
    assert field in fields, fields
    assert any(needle in message for message in fields[field]), fields[field]


def test_zhuanxiang__details_are_required_and_must_be_an_object(login):
    assert refused_details(login, "zhuxue", None) == {"details": ["须为对象（JSON object），填写该项目的申请信息"]}
    assert "details" in refused_details(login, "cishan", ["x"])


# -- the catalog --------------------------------------------------------------------------------------------------

def test_zhuanxiang__every_program_is_a_deployed_process(login):
    programs = {p["key"]: p for p in login("admin").get("programs").get_json()}
    deployed = {d["key"] for d in login("designer").get("process-definitions").get_json()}
    for key in ZHUANXIANG:
        assert programs[key]["process_key"] == key
        assert key in deployed, key
    # The shared steps are deployed inside each program (a call activity's process goes with its caller).
    assert deployed.isdisjoint(SHARED)


def test_zhuanxiang__deploy_reports_each_program_with_the_shared_steps(app, db):
    from engine.models import ProcessDefinition
    from web.cli import bpmn_dir, deploy_files, root_processes
    from web.extensions import db as database

    lines: list[str] = []
    with app.app_context():
        path = bpmn_dir() / "zhuanxiang.bpmn"
        assert root_processes(path.read_bytes()) == ZHUANXIANG
        # A file of one process deploys as before.
        assert root_processes((bpmn_dir() / "dibao.bpmn").read_bytes()) == [None]
        assert deploy_files([path], echo=lines.append)
        reports = [line for line in lines if not line.startswith(" ")]
        assert [line.split(": ")[1].split(" ")[0] for line in reports] == ZHUANXIANG
        assert all("未变化" in line for line in reports)
        for key in ZHUANXIANG:
            definition = database.session.query(ProcessDefinition).filter_by(key=key).one()
            elements = {t["element_id"] for t in definition.user_tasks}
            # One shared decision (assessment, decision, written refusal) and one street verification in every one.
            assert {"street_verify", "assess", "decide", "refusal_notice"} <= elements, key
        database.session.remove()


# -- task forms ---------------------------------------------------------------------------------------------------

VALID = {
    "zhuanxiang_street_verify": {"investigators": ["张伟", "李强"], "visited_on": "2026-03-03", "street_verified": True},
    "zhuanxiang_status_check": {"assistance_status": "tekun"},
    "zhuanxiang_unit_opinion": {"unit_confirmed": True},
    "zhuanxiang_assess": {"recommendation": "support", "aid_item": "学杂费资助", "proposed_amount": 2000},
    "zhuanxiang_decide": {"decision": "approve"},
    "zhuanxiang_refusal_notice": {"delivered_on": "2026-03-04"},
    "zhuyi_diagnosis": {"diagnosis_confirmed": True, "confirmed_total_cost": 1000},
    "zhuyi_insurance": {"insurance_type": "none", "confirmed_reimbursed": 0},
    "zhucan_assessment": {"assessed_grade": 1, "assessed_category": "视力"},
    "xinli_assessment": {"risk_level": "low"},
}


@pytest.mark.parametrize("key", sorted(FORM_KEYS))
def test_zhuanxiang__forms_clean_to_json_with_chinese_labels(key):
    assert key in FORMS and CJK.search(FORMS[key].title)
    json.dumps(validate_form(key, VALID[key]))
    schema = json_schema(key)
    for name, field in schema["properties"].items():
        assert CJK.search(field["title"]) and CJK.search(field["description"]), (key, name)


@pytest.mark.parametrize(("key", "data", "field", "message"), [
    ("zhuanxiang_decide", {"decision": "reject"}, "reason", "不予救助必须书面说明理由"),
    ("zhuanxiang_decide", {"decision": "approve", "amount": 0}, "amount", "金额须大于 0 元，且不超过一千万元"),
    ("zhuanxiang_assess", {"recommendation": "not_support", "aid_item": "助餐"}, "assessment_opinion",
     "建议不予救助时必须填写评估意见"),
    ("zhuanxiang_street_verify", {"investigators": ["张伟"], "visited_on": "2026-03-03", "street_verified": True},
     "investigators", "核实人员不少于 2 人"),
    ("zhuanxiang_street_verify", {"investigators": ["张伟", "李强"], "visited_on": "2026-03-03",
                                  "street_verified": False}, "street_findings", "情况不属实时必须说明核实情况"),
    ("zhuanxiang_unit_opinion", {"unit_confirmed": False}, "unit_opinion", "情况不属实时必须填写意见"),
    ("zhucan_assessment", {"assessed_grade": 0, "assessed_category": "视力"}, "assessed_grade", "残疾等级应为 1 至 4 级"),
    ("xinli_assessment", {"risk_level": "high"}, "psych_opinion", "风险为高时必须填写干预建议"),
])
def test_zhuanxiang__form_messages(key, data, field, message):
    with pytest.raises(FormError) as info:
        validate_form(key, data)
    assert message in info.value.fields[field]


def test_zhuanxiang__amount_ceilings():
    from workflows.forms.zhuanxiang import AssessForm, DecideForm, InsuranceForm

    zhuyi = {"program": "zhuyi", "details": {"total_cost": 5000.0, "insurance_reimbursed": 3000.0},
             "confirmed_total_cost": 4000.0, "confirmed_reimbursed": 3000.0}
    # The units' confirmed figures count over the application's: 4000 − 3000.
    assert AssessForm.step_check(zhuyi, {"proposed_amount": 1000.0}) == {}
    assert AssessForm.step_check(zhuyi, {"proposed_amount": 1500.0}) == {
        "proposed_amount": ["不能超过医保报销后的自付费用 1000.00 元"]}
    zhuxue = {"program": "zhuxue", "details": {"tuition": 1200.0, "fees": 800.0}}
    assert DecideForm.step_check(zhuxue, {"decision": "approve", "amount": 2500.0}) == {
        "amount": ["不能超过学费与杂费合计 2000.00 元"]}
    assert DecideForm.step_check(zhuxue, {"decision": "reject", "amount": 2500.0}) == {}
    assert AssessForm.step_check({"program": "cishan", "details": {}}, {"proposed_amount": 99999.0}) == {}
    assert InsuranceForm.step_check(zhuyi, {"confirmed_reimbursed": 4500.0}) == {
        "confirmed_reimbursed": ["不能超过医疗总费用 4000.00 元"]}


def test_zhuanxiang__ceilings_and_amounts_are_decimal_yuan():
    from decimal import Decimal

    from workflows.forms.zhuanxiang import AssessForm
    from workflows.zhuanxiang import amount_ceiling

    zhuyi = {"program": "zhuyi", "details": {}, "confirmed_total_cost": 1000.3, "confirmed_reimbursed": 0.1}
    assert amount_ceiling(zhuyi) == (Decimal("1000.20"), "医保报销后的自付费用")  # not 1000.1999999999999
    assert AssessForm.step_check(zhuyi, {"proposed_amount": 1000.2}) == {}
    assert AssessForm.step_check(zhuyi, {"proposed_amount": 1000.21}) == {
        "proposed_amount": ["不能超过医保报销后的自付费用 1000.20 元"]}
    assert amount_ceiling({"program": "zhuxue", "details": {"tuition": 0.1, "fees": 0.2}})[0] == Decimal("0.30")
    # A third decimal place is refused, not rounded; the cleaned amount is a JSON number for the task data.
    with pytest.raises(FormError) as info:
        validate_form("zhuanxiang_assess", {"proposed_amount": "1000.005"})
    assert info.value.fields["proposed_amount"] == ["最多两位小数"]


def test_zhuanxiang__details_fields_carry_chinese_labels_for_the_application_page():
    from workflows.program_details import describe

    for program in ZHUANXIANG:
        items = describe(program)
        assert items, program
        assert all(CJK.search(item["label"]) for item in items), program
    stage = next(item for item in describe("zhuxue") if item["name"] == "stage")
    assert [value for value, _label in stage["choices"]] == ["学前", "小学", "初中", "高中", "中职", "高校"]

"""收入认定 (workflows.income): which income counts, the survey's income items, the economic check's figure and the
flags a street review must decide — the rules alone, then whole cases through the API with the simulated clock,
on both rule sets (2012 and 2021)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.scenario import Dibao
from tests.ui_pages import PageClient, error_for
from workflows import income
from workflows.income import IncomeAssessment, assess, countable_income

D = Decimal


# --- the rules ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["wage", "business", "property", "support", "pension", "other_transfer", "unitemised"])
def test_income__counted_types_count(kind):
    assert income.INCOME_TYPES[kind].treatment == income.COUNTED
    assert countable_income([{"type": kind, "amount": "1000.50"}]) == IncomeAssessment(
        D("1000.50"), D("0.00"), D("0.00"), D("1000.50"))


@pytest.mark.parametrize("kind", ["scholarship", "assistance", "family_planning", "veteran"])
def test_income__excluded_types_are_received_but_not_counted(kind):
    assert income.INCOME_TYPES[kind].treatment == income.EXCLUDED
    result = countable_income([{"type": "wage", "amount": 900}, {"type": kind, "amount": "300.25"}])
    assert result == IncomeAssessment(D("1200.25"), D("300.25"), D("0.00"), D("900.00"))


@pytest.mark.parametrize("kind", ["illness_disability", "job_cost"])
def test_income__deducted_types_are_subtracted(kind):
    assert income.INCOME_TYPES[kind].treatment == income.DEDUCTED
    result = countable_income([{"type": "wage", "amount": 900}, {"type": kind, "amount": 250}])
    assert result == IncomeAssessment(D("900.00"), D("0.00"), D("250.00"), D("650.00"))


def test_income__countable_never_below_zero_and_decimal_exact():
    result = countable_income([{"type": "pension", "amount": 300}, {"type": "illness_disability", "amount": 800}])
    assert result.countable == D("0.00") and result.deducted == D("800.00")
    # Float input is read through its text: 0.1 + 0.2 is 0.30, not 0.30000000000000004.
    assert countable_income([{"type": "wage", "amount": 0.1}, {"type": "wage", "amount": 0.2}]).countable == D("0.30")
    assert countable_income([]) == IncomeAssessment(D(0), D(0), D(0), D(0))
    assert all(isinstance(v, Decimal) for v in countable_income([{"type": "wage", "amount": 1}]).__dict__.values())


def test_income__unknown_type_is_a_chinese_value_error():
    with pytest.raises(ValueError, match="未知的收入类型"):
        countable_income([{"type": "lottery", "amount": 10}])
    with pytest.raises(ValueError, match="不能为负数"):
        countable_income([{"type": "wage", "amount": -1}])


def test_income__rows_checked_per_cell():
    items, errors = income.clean_items([{"type": "wage", "amount": "1,200.5", "member": " 张三 "},
                                        {"type": "", "amount": ""}, {"type": "wage", "amount": "1.234"}, []])
    assert items == [] and errors == {"1-type": ["此项为必填项"], "1-amount": ["此项为必填项"],
                                      "2-amount": ["金额最多两位小数"], "3": ["应为 JSON 对象"]}
    items, errors = income.clean_items([{"type": "wage", "amount": "1,200.5", "member": " 张三 ", "x": 1}])
    assert errors == {} and items == [{"type": "wage", "amount": 1200.5, "member": "张三"}]
    assert income.clean_items("many")[1] == {"": ["应为列表"]}


def test_income__assessment_takes_the_higher_figure_and_flags_problems():
    ok = assess(1000, {"passed": True, "monthly_income": 1040}, 2, 1395)
    assert ok["assessed_monthly_income"] == 1040 and ok["flags"] == [] and ok["passed"] is True
    # The check's own items go through the same exclusions and deductions.
    check = {"passed": True, "income_items": [{"type": "wage", "amount": 1500}, {"type": "veteran", "amount": 600},
                                              {"type": "job_cost", "amount": 200}]}
    same = assess(1300, check, 2, 1395)
    assert same["check_monthly_income"] == 1300 and same["flags"] == []
    assert same["check_income"]["excluded"] == 600 and same["check_income"]["deducted"] == 200
    # Failed check, failed asset test, per-capita at the standard, and a discrepancy beyond 10 % (at least 50 yuan).
    bad = assess(1000, {"passed": False, "asset_test_passed": False, "monthly_income": 2790,
                        "findings": "名下有小型轿车一辆"}, 2, 1395)
    assert [f["key"] for f in bad["flags"]] == ["check_failed", "asset_test_failed", "income_above_standard",
                                                "income_discrepancy"]
    assert "名下有小型轿车一辆" in bad["flags"][0]["text"] and bad["passed"] is False
    assert "1,395.00" in bad["flags"][2]["text"] and "1,790.00" in bad["flags"][3]["text"]
    # The tolerance: 50 yuan at least, else 10 % of the higher figure.
    assert assess(100, {"monthly_income": 150}, 1, 1395)["flags"] == []
    assert [f["key"] for f in assess(100, {"monthly_income": 150.01}, 1, 1395)["flags"]] == ["income_discrepancy"]
    assert assess(1000, {"monthly_income": 1100}, 1, 1395)["flags"] == []  # 100 ≤ 10 % of 1100
    with pytest.raises(ValueError, match="monthly_income"):
        assess(1000, {"passed": True}, 2, 1395)
    with pytest.raises(ValueError, match="收入明细有误"):
        assess(1000, {"income_items": [{"type": "lottery", "amount": 1}]}, 2, 1395)


def test_income__flag_decisions_checked_against_the_raised_flags():
    data = {"check_flags": [{"key": "check_failed", "title": "经济状况核对未通过", "text": "…"}]}
    assert income.check_flag_decisions(data, None) == {
        "flag_decisions-check_failed-decision": ["请对“经济状况核对未通过”作出认定并填写意见"]}
    assert income.check_flag_decisions(data, {"check_failed": {"decision": "upheld", "opinion": "属实"}}) == {}
    assert income.check_flag_decisions({}, {"check_failed": {"decision": "upheld", "opinion": "属实"}}) == {
        "flag_decisions-check_failed-decision": ["本案没有该核对问题"]}


# --- whole cases through the API ------------------------------------------------------------------------------------

# The scenario household: an adult (56) and a child (10, the 20 % minor top-up); the demo standard is 1,395 yuan.
SURVEY_ITEMS = [
    {"type": "wage", "amount": 1200, "member": "张三", "note": "小区保洁"},
    {"type": "scholarship", "amount": 300, "member": "张家1", "note": "助学金"},
    {"type": "illness_disability", "amount": "200.00", "member": "张三", "note": "慢性病门诊自付"},
]
FAILED_CHECK = {"passed": False, "income": 1000.0, "asset_test_passed": False,
                "findings": "车辆登记部门核对：申请人名下有小型轿车一辆"}


def use_rule_set(login, process_key: str) -> None:
    response = login("admin")._call("put", "rule-sets/示范区/dibao", json={"process_key": process_key})
    assert response.status_code == 200, response.get_json()


def to_street_review(login, process_key: str, *, survey_items=SURVEY_ITEMS, check=None) -> Dibao:
    use_rule_set(login, process_key)
    case = Dibao(login)
    case.accept()
    case.survey_task_id = case.open_task("household_survey", "jd_heping")["id"]
    case.survey(items=survey_items)
    case.economic_check(**(check or {"income": 1000.0}))
    if process_key == "dibao":  # the 2021 procedure appraises only after an objection
        case.appraise()
    return case


@pytest.mark.parametrize("process_key", ["dibao", "dibao_2021"])
def test_income__scholarship_and_illness_costs_give_the_right_amount(login, process_key):
    case = to_street_review(login, process_key)
    task = case.open_task("street_review", "jd_heping_lead")
    shown = login("jd_heping_lead").get(f"tasks/{task['id']}").get_json()
    assert shown["check_flags"] == []
    # 1200 + 300 received, 300 excluded, 200 deducted: 1000 yuan counted; (1395 − 500) × 2 + 20 % × 1395 = 2069.
    assert case.case()["proposed_amount"] == 2069.0
    data = login("jd_heping").get(f"tasks/{case.survey_task_id}").get_json()["data"]
    assert data["verified_monthly_income"] == 1000
    assert data["income_assessment"] == {"gross": 1500, "excluded": 300, "deducted": 200, "countable": 1000}
    case.street_review()
    assert case.case()["stage"] == "公示中"


def test_income__survey_items_refused_per_cell_and_nothing_moves(login):
    case = Dibao(login)
    case.accept()
    response = case.survey(items=[{"type": "wage", "amount": 800}, {"type": "lottery", "amount": -3}], expect=422)
    fields = response.get_json()["error"]["fields"]
    assert fields == {"income_items-1-type": ["不是可选的收入类型"], "income_items-1-amount": ["不能为负数"]}
    assert case.open_task("household_survey", "jd_heping")["status"] == "open"


@pytest.mark.parametrize("process_key", ["dibao", "dibao_2021"])
def test_income__failed_check_must_be_decided_at_the_street_review(login, process_key):
    case = to_street_review(login, process_key, check=FAILED_CHECK)
    lead = login("jd_heping_lead")
    task = case.open_task("street_review", "jd_heping_lead")
    flags = lead.get(f"tasks/{task['id']}").get_json()["check_flags"]
    assert [f["key"] for f in flags] == ["check_failed", "asset_test_failed"]
    assert "小型轿车" in flags[0]["text"]

    # Approving without a decision on each flag: 422 naming each, and the case has not moved.
    response = case.street_review(expect=422)
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"flag_decisions-check_failed-decision", "flag_decisions-asset_test_failed-decision"}
    assert all("作出认定" in m for messages in fields.values() for m in messages)
    # A decision without its opinion, and a decision on a flag the case does not have, are refused too.
    response = case.street_review(flag_decisions={"check_failed": {"decision": "cleared"},
                                                  "asset_test_failed": {"decision": "upheld", "opinion": "属实"}},
                                  expect=422)
    assert response.get_json()["error"]["fields"] == {
        "flag_decisions-check_failed-opinion": ["对核对问题作出认定时必须填写意见"]}
    response = case.street_review(flag_decisions={
        "check_failed": {"decision": "cleared", "opinion": "车辆已于上月过户"},
        "asset_test_failed": {"decision": "cleared", "opinion": "车辆已过户，存款未超标"},
        "income_discrepancy": {"decision": "upheld", "opinion": "x"}}, expect=422)
    assert response.get_json()["error"]["fields"] == {"flag_decisions-income_discrepancy-decision": ["本案没有该核对问题"]}
    assert case.open_task("street_review", "jd_heping_lead")["status"] == "open"
    assert case.case()["stage"] == "街道审核"

    # Deciding both with opinions goes on to the notice; the decisions stay in the case history.
    case.street_review(opinion="经复核车辆已过户，同意上报", flag_decisions={
        "check_failed": {"decision": "cleared", "opinion": "车辆已于上月过户，提供了过户证明"},
        "asset_test_failed": {"decision": "cleared", "opinion": "车辆已过户，存款未超过规定"}})
    assert case.case()["stage"] == "公示中"
    done = lead.get(f"tasks/{task['id']}").get_json()
    assert done["data"]["flag_decisions"]["check_failed"]["decision"] == "cleared"


def test_income__check_items_and_discrepancy_flag(login):
    # The check reports items: its veteran benefit is not counted, so only the wage counts (1800 yuan), far above
    # the survey's 1000: a discrepancy, and 900 yuan a head is still under the standard.
    check = {"income": None, "income_items": [{"type": "wage", "amount": 1800}, {"type": "veteran", "amount": 700}]}
    case = to_street_review(login, "dibao", check=check)
    task = case.open_task("street_review", "jd_heping_lead")
    flags = login("jd_heping_lead").get(f"tasks/{task['id']}").get_json()["check_flags"]
    assert [f["key"] for f in flags] == ["income_discrepancy"]
    assert "1,000.00" in flags[0]["text"] and "1,800.00" in flags[0]["text"]
    # The higher (check) figure is assessed: (1395 − 900) × 2 + 279 = 1269.
    assert case.case()["proposed_amount"] == 1269.0
    case.street_review(decision="reject", opinion="隐瞒工资收入", flag_decisions={
        "income_discrepancy": {"decision": "upheld", "opinion": "核对显示有稳定工资收入，入户时未申报"}})
    assert case.stage_elements() == {"refusal_notice"}


def test_income__the_street_review_page_shows_the_flags_and_asks_for_each(app, login):
    case = to_street_review(login, "dibao", check=FAILED_CHECK)
    task = case.open_task("street_review", "jd_heping_lead")
    login("jd_heping_lead").post(f"tasks/{task['id']}/claim")
    lead = PageClient(app, "jd_heping_lead")
    html = lead.text(f"/tasks/{task['id']}")
    assert 'id="check-flags"' in html and "经济状况核对未通过" in html and "小型轿车" in html
    assert 'name="flag_decisions-check_failed-decision"' in html
    response = lead.post(f"/tasks/{task['id']}", {
        "action": "complete", "decision": "approve", "opinion": "同意",
        "flag_decisions-check_failed-decision": "cleared", "flag_decisions-check_failed-opinion": "已过户"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert error_for(page, "flag_decisions-asset_test_failed-decision") == ["请对“家庭财产核对未通过”作出认定并填写意见"]
    assert "已过户" in page  # what was typed comes back
    response = lead.post(f"/tasks/{task['id']}", {
        "action": "complete", "decision": "approve", "opinion": "同意",
        "flag_decisions-check_failed-decision": "cleared", "flag_decisions-check_failed-opinion": "已过户",
        "flag_decisions-asset_test_failed-decision": "cleared", "flag_decisions-asset_test_failed-opinion": "未超标"})
    assert response.status_code == 302
    assert case.case()["stage"] == "公示中"
    closed = lead.text(f"/tasks/{task['id']}")
    assert "经济状况核对未通过：经核实可以排除（已过户）" in closed


def test_income__survey_page_takes_the_income_table(app, login):
    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    login("jd_heping").post(f"tasks/{task['id']}/claim")
    clerk = PageClient(app, "jd_heping")
    html = clerk.text(f"/tasks/{task['id']}")
    assert 'name="income_items-0-type"' in html and "不计入收入" in html and "从收入中扣减" in html
    members = case.case()["household"]["members"]
    form = {"action": "complete", "investigators": ["张伟", "王丽"],
            "income_items-0-type": "wage", "income_items-0-amount": "1,200",
            "income_items-1-type": "", "income_items-1-amount": "",  # the blank row left for typing
            "income_items-2-type": "job_cost", "income_items-2-amount": "100.5", "income_items-2-member": "张三"}
    for i, m in enumerate(members):
        form.update({f"members-{i}-key": str(i), f"members-{i}-name": m["name"], f"members-{i}-relation": m["relation"],
                     f"members-{i}-id_number": m["id_number"], f"members-{i}-birth_date": m["birth_date"],
                     f"members-{i}-work_capacity": m["work_capacity"]})
    assert clerk.post(f"/tasks/{task['id']}", form).status_code == 302
    data = login("jd_heping").get(f"tasks/{task['id']}").get_json()["data"]
    assert data["income_items"] == [{"type": "wage", "amount": 1200},
                                    {"type": "job_cost", "amount": 100.5, "member": "张三"}]
    assert data["verified_monthly_income"] == 1099.5
    assert "工资性收入 1200 元；就业必要成本（交通等）（张三） 100.5 元" in clerk.text(f"/tasks/{task['id']}")


def test_income__a_v1_client_sending_one_total_still_completes_the_survey(login):
    # Contract v1: the survey carries `verified_monthly_income` and no items; it is one counted, unitemised item.
    case = Dibao(login)
    case.accept()
    task_id = case.open_task("household_survey", "jd_heping")["id"]
    case.complete("household_survey", "jd_heping", {
        "investigators": ["张伟", "李强"], "verified_monthly_income": 900, "findings": "属实", "visited_on": "2026-03-03"})
    data = login("jd_heping").get(f"tasks/{task_id}").get_json()["data"]
    assert data["verified_monthly_income"] == 900
    assert data["income_items"] == [{"type": "unitemised", "amount": 900}]

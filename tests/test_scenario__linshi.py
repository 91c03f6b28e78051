"""临时救助 through the API with the simulated clock: 急难型 aid first and its paperwork (on time, and late with the
escalation chain), 支出型 at each approval tier (street, district, 一事一议 with all agreeing or one dissenting), the
income test, and amounts above the user's tier refused with the tier named.

The demo district's 低保 standard is 1395.00 yuan: street limit 3 × = 4185.00, joint-review limit 10 × = 13950.00.
The clock starts on Monday 2 March 2026, 09:00 (no holiday near).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.models import HumanTask
from tests.scenario import Linshi, advance

STREET_LIMIT_ERROR = "超出街道审批限额（3 倍低保标准 = 4185.00 元），须报区民政局审批"
DISTRICT_LIMIT_ERROR = "超出区民政局审批限额（10 倍低保标准 = 13950.00 元），须提请一事一议"
MEMBERS = ["qu_approver", "supervisor", "mz_zhuanxiang"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def move_to(login, instant: datetime) -> None:
    from engine import clock

    delta = instant - clock.active().now()
    assert delta >= timedelta(0)
    advance(login, f"PT{int(delta.total_seconds())}S")


def task_row(app, task_id: int) -> HumanTask:
    from web.extensions import db

    with app.app_context():
        row = db.session.get(HumanTask, task_id)
        db.session.expunge(row)
        db.session.remove()
    return row


def process_data(app, case: Linshi) -> dict:
    """The instance's current task data (the API does not expose it)."""
    from engine.models import ProcessInstance
    from web.extensions import db
    from workflows.listener import current_data

    with app.app_context():
        instance = db.session.get(ProcessInstance, case.instance_id)
        data = current_data(app.extensions["jiuzhu.engine"].workflow_of(instance))
        db.session.remove()
    return data


def set_limits(login, user="qu_approver", **body):
    return login(user)._call("put", "linshi/limits", json=body)


@pytest.fixture
def average_income(login):
    """Last year's local per-capita monthly income: 3000.00 yuan (the 支出型 income line)."""
    response = set_limits(login, last_year_average_income="3000.00")
    assert response.status_code == 200, response.get_json()


def linshi_aid(case: Linshi) -> list[dict]:
    return [a for a in case.case()["aid_record"] if a["program"] == "linshi"]


def aid_tiers(app, case: Linshi) -> list[str]:
    """The approving tier kept in each 临时救助 aid record's detail (the agency is always 区民政局)."""
    from web.extensions import db
    from workflows.aid.models import AidRecord

    with app.app_context():
        rows = db.session.scalars(select(AidRecord).where(AidRecord.case_id == case.id).order_by(AidRecord.id))
        tiers = [row.detail["tier"] for row in rows]
        db.session.remove()
    return tiers


def expense_through_survey(login, proposed, income=2000.0) -> Linshi:
    case = Linshi(login, kind="expense", requested_amount=proposed)
    case.complete("accept", case.staff["clerk"], {"decision": "accept", "opinion": "材料齐全"})
    case.complete("survey", case.staff["clerk"], {
        "investigators": ["张伟", "李强"], "household_monthly_income": income, "expense_total": 30000,
        "proposed_amount": proposed, "findings": "住院费用属实"})
    return case


def street_review(case: Linshi) -> None:
    case.complete("street_review", case.staff["lead"], {"decision": "approve", "opinion": "情况属实，同意上报"})


# -- 急难型 ------------------------------------------------------------------------------------------------------


def test_linshi__emergency_aid_first_same_day_then_paperwork_on_time(app, login):
    case = Linshi(login, kind="emergency", requested_amount=3000)
    grant = case.open_task("emergency_grant", "jd_heping")
    # Due within 1 working day (the start day not counted): 24:00 Tue 3 March at the latest.
    assert at(grant["due_at"]) == at("2026-03-04T00:00:00+08:00")
    case.complete("emergency_grant", "jd_heping", {"decision": "approve", "amount": "3000.00"})
    # Paid the same day, before any paperwork: one one-off payment from the street office in the aid register.
    [aid] = linshi_aid(case)
    # Recorded under 区民政局 (an agency the quarterly report can select), the street tier in its detail.
    assert aid["amount"] == "3000.00" and aid["monthly"] is False and aid["agency"] == "区民政局"
    assert aid_tiers(app, case) == ["street"]
    assert aid["period_from"] == "2026-03-02" and aid["status"] == "active"
    paperwork = case.open_task("paperwork", "jd_heping")
    # Paperwork within 5 working days, the day itself not counted: Tue 3 … Mon 9 March → 24:00 Mon 9 March.
    assert at(paperwork["due_at"]) == at("2026-03-10T00:00:00+08:00")
    assert case.case()["status"] == "in_progress"

    case.complete("paperwork", "jd_heping", {"materials": ["临时救助申请书", "住院证明"],
                                             "investigators": ["张伟", "李强"], "findings": "情况属实"})
    case.complete("paperwork_review", "jd_heping_lead", {"decision": "approve", "opinion": "手续齐全"})
    body = case.case()
    assert body["status"] == "approved" and body["amount"] == 3000
    assert len(linshi_aid(case)) == 1
    assert task_row(app, paperwork["id"]).overdue_at is None


def test_linshi__emergency_above_street_limit_is_refused_naming_the_tier(app, login):
    case = Linshi(login, kind="emergency", requested_amount=5000)
    response = case.complete("emergency_grant", "jd_heping", {"decision": "approve", "amount": 5000}, expect=422)
    assert response.get_json()["error"]["fields"] == {"amount": [STREET_LIMIT_ERROR]}
    # Nothing was paid and the task is still open: the step rolled back.
    assert linshi_aid(case) == []
    case.complete("emergency_grant", "jd_heping", {"decision": "approve", "amount": "4185.00"})
    assert linshi_aid(case)[0]["amount"] == "4185.00"


def test_linshi__emergency_paperwork_late_is_overdue_and_escalates(app, login):
    case = Linshi(login, kind="emergency", requested_amount=2000)
    case.complete("emergency_grant", "jd_heping", {"decision": "approve", "amount": 2000})
    paperwork = case.open_task("paperwork", "jd_heping")
    move_to(login, at("2026-03-09T23:59:00+08:00"))
    assert task_row(app, paperwork["id"]).overdue_at is None
    move_to(login, at("2026-03-10T00:00:01+08:00"))
    row = task_row(app, paperwork["id"])
    assert row.overdue_at is not None and row.escalation_level == 1 and row.escalate_to == "street_reviewer"
    # Still open two more working days (Tue 10, Wed 11): up the chain to the district.
    move_to(login, at("2026-03-12T00:00:01+08:00"))
    row = task_row(app, paperwork["id"])
    assert row.escalation_level == 2 and row.escalate_to == "district_approver"
    history = case.case()["history"]
    assert [h["detail"]["target_role"] for h in history if h["action"] == "task_escalated"] == [
        "street_reviewer", "district_approver"]
    overdue = login("supervisor").get("reports/overdue?group_by=step").get_json()
    assert next(g for g in overdue["items"] if g["key"] == "补办手续")["overdue"] == 1
    # Late paperwork is still taken, and the aid confirmed.
    case.complete("paperwork", "jd_heping", {"materials": ["申请书"], "investigators": ["张伟", "李强"]})
    case.complete("paperwork_review", "jd_heping_lead", {"decision": "approve", "opinion": "补办完成"})
    assert case.case()["status"] == "approved"


def test_linshi__emergency_not_confirmed_revokes_the_aid(app, login):
    case = Linshi(login, kind="emergency", requested_amount=2000)
    case.complete("emergency_grant", "jd_heping", {"decision": "approve", "amount": 2000})
    case.complete("paperwork", "jd_heping", {"materials": ["申请书"], "investigators": ["张伟", "李强"]})
    case.complete("paperwork_review", "jd_heping_lead", {"decision": "reject", "opinion": "隐瞒收入，不符合条件"})
    body = case.case()
    assert body["status"] == "refused" and body["refusal_reason"] == "隐瞒收入，不符合条件"
    assert [a["status"] for a in linshi_aid(case)] == ["revoked"]


# -- 支出型 -------------------------------------------------------------------------------------------------------


def test_linshi__expense_street_tier(app, login, average_income):
    case = expense_through_survey(login, proposed=3000)
    assert case.stage_elements() == {"street_decision"}
    response = case.complete("street_decision", "jd_heping_lead",
                             {"decision": "approve", "opinion": "同意", "amount": 4200}, expect=422)
    assert response.get_json()["error"]["fields"] == {"amount": [STREET_LIMIT_ERROR]}
    case.complete("street_decision", "jd_heping_lead", {"decision": "approve", "opinion": "同意", "amount": 3000})
    body = case.case()
    assert body["status"] == "approved" and body["amount"] == 3000
    [aid] = linshi_aid(case)
    assert aid["agency"] == "区民政局" and aid["monthly"] is False and aid["amount"] == "3000.00"
    assert aid_tiers(app, case) == ["street"]


def test_linshi__expense_district_tier(app, login, average_income):
    case = expense_through_survey(login, proposed=8000)
    assert case.stage_elements() == {"street_review"}
    street_review(case)
    assert case.stage_elements() == {"district_approval"}
    response = case.complete("district_approval", "qu_approver",
                             {"decision": "approve", "opinion": "同意", "amount": 14000}, expect=422)
    assert response.get_json()["error"]["fields"] == {"amount": [DISTRICT_LIMIT_ERROR]}
    case.complete("district_approval", "qu_approver", {"decision": "approve", "opinion": "同意", "amount": 8000})
    body = case.case()
    assert body["status"] == "approved" and body["amount"] == 8000
    assert linshi_aid(case)[0]["agency"] == "区民政局"
    assert aid_tiers(app, case) == ["district"]


def joint_case(login) -> Linshi:
    case = expense_through_survey(login, proposed=20000)
    street_review(case)
    assert case.stage_elements() == {"joint_proposal"}
    case.complete("joint_proposal", "qu_approver", {"decision": "approve", "opinion": "拟救助 20000 元，提请一事一议",
                                                    "amount": 20000, "joint_members": MEMBERS})
    return case


def test_linshi__joint_review_all_agree(app, login, average_income):
    case = joint_case(login)
    tasks = [t for t in case.case()["tasks"] if t["element_id"] == "joint_review"]
    # One sign-off per member, each assigned to that member by name.
    assert sorted(t["assignee"] for t in tasks) == sorted(MEMBERS)
    mine = next(t for t in tasks if t["assignee"] == "supervisor")
    # A member cannot sign another member's sign-off.
    assert login("qu_approver").post(f"tasks/{mine['id']}/complete",
                                     json={"data": {"decision": "approve", "opinion": "同意"}}).status_code == 409
    # Each gives an opinion: it is required.
    response = login("supervisor").post(f"tasks/{mine['id']}/complete", json={"data": {"decision": "approve"}})
    assert response.status_code == 422 and "opinion" in response.get_json()["error"]["fields"]
    for member in MEMBERS:
        case.complete("joint_review", member, {"decision": "approve", "opinion": f"{member} 同意救助"})
    body = case.case()
    assert body["status"] == "approved" and body["amount"] == 20000
    assert linshi_aid(case)[0]["agency"] == "区民政局"
    assert aid_tiers(app, case) == ["joint"]
    opinions = {h["actor"]: h["opinion"] for h in body["history"]
                if h["action"] == "task_completed" and h.get("element_id") == "joint_review"}
    assert opinions == {m: f"{m} 同意救助" for m in MEMBERS}
    # The votes are kept in the process data, each naming its member.
    data = process_data(app, case)
    assert sorted((v["member"], v["decision"]) for v in data["joint_votes"]) == sorted(
        (m, "approve") for m in MEMBERS)


def test_linshi__joint_review_one_disagreement_refuses(app, login, average_income):
    case = joint_case(login)
    case.complete("joint_review", "qu_approver", {"decision": "approve", "opinion": "同意"})
    case.complete("joint_review", "supervisor", {"decision": "reject", "opinion": "已获医保报销，金额过高"})
    case.complete("joint_review", "mz_zhuanxiang", {"decision": "approve", "opinion": "同意"})
    assert case.stage_elements() == {"refusal_notice"}
    case.refusal_notice(reason="一事一议未通过")
    body = case.case()
    assert body["status"] == "refused" and linshi_aid(case) == []


def test_linshi__income_test_refuses(app, login, average_income):
    # 2 members, 8000 a month: 4000.00 per person, not below last year's 3000.00.
    case = expense_through_survey(login, proposed=3000, income=8000)
    assert case.stage_elements() == {"refusal_notice"}
    data = process_data(app, case)
    assert data["income_test"]["passed"] is False and "4000.00" in data["income_test"]["reason"]
    case.refusal_notice(reason=data["income_test"]["reason"])
    body = case.case()
    assert body["status"] == "refused" and "不低于上年度当地居民人均月收入" in body["refusal_reason"]


def test_linshi__survey_needs_the_average_income(app, login):
    case = Linshi(login, kind="expense", requested_amount=3000)
    case.complete("accept", "jd_heping", {"decision": "accept"})
    response = case.complete("survey", "jd_heping", {"investigators": ["张伟", "李强"],
                                                     "household_monthly_income": 2000, "proposed_amount": 3000},
                             expect=422)
    assert "household_monthly_income" in response.get_json()["error"]["fields"]


def test_linshi__district_multiples_route_the_case(app, login, average_income):
    # 和平街道 may grant up to 2 × 1395 = 2790.00 once the district says so: 3000 goes to the district.
    assert set_limits(login, street_multiple=2).status_code == 200
    case = expense_through_survey(login, proposed=3000)
    assert case.stage_elements() == {"street_review"}

"""The supervisor's reports through the API: counts per agency / street / step that match the inbox, the overdue list
with ages in working days, ageing and trend, the Excel export, who may see what."""
from __future__ import annotations

import io
from datetime import datetime

import pytest

from tests.scenario import Dibao, advance


@pytest.fixture
def late_cases(app, login):
    """Five cases on Mon 2 Mar 2026: three in 和平街道, two in 安定街道; one case got as far as the appraisal."""
    cases = [Dibao(login, street=street) for street in ("和平街道", "和平街道", "和平街道", "安定街道", "安定街道")]
    for case in cases[:4]:
        case.accept()
    cases[0].survey()
    cases[0].economic_check()  # → appraisal (5 working days) opens Mon 2 Mar
    # Surveys (10 wd) are due 24:00 Mon 16 Mar, the appraisal 24:00 Mon 9 Mar; move to Thu 19 Mar, sweeping on
    # Tue 10 Mar (the appraisal goes overdue) and Mon 16 Mar (the surveys' reminders).
    advance(login, "P8D")
    advance(login, "P6D")
    advance(login, "P3D")
    return cases


def test_reports__counts_match_the_inbox(login, late_cases):
    supervisor = login("supervisor")
    by_street = supervisor.get("reports/overdue?group_by=street").get_json()
    inbox = login("admin").get("tasks?view=all&overdue=1&limit=500").get_json()["items"]
    assert by_street["total"]["overdue"] == len(inbox) == 4  # 3 surveys + 1 appraisal; the accept has no limit
    streets = {g["key"]: g for g in by_street["items"]}
    assert streets["和平街道"]["overdue"] == 3 and streets["安定街道"]["overdue"] == 1
    assert streets["安定街道"]["open"] == 2  # the unaccepted case's 受理 is open, not overdue
    # The appraisal was due 24:00 Mon 9 Mar: Tue 10 … Thu 19 Mar are 8 working days.
    assert streets["和平街道"]["oldest_overdue_working_days"] == 8
    assert streets["和平街道"]["escalated"] == 3  # every overdue task went to its escalateTo role

    by_step = {g["key"]: g for g in supervisor.get("reports/overdue?group_by=step").get_json()["items"]}
    assert by_step["入户调查"]["overdue"] == 3 and by_step["民主评议"]["overdue"] == 1
    assert by_step["入户调查"]["oldest_overdue_working_days"] == 3  # Tue 17, Wed 18, Thu 19 Mar
    by_agency = {g["key"]: g for g in supervisor.get("reports/overdue?group_by=agency").get_json()["items"]}
    assert by_agency["街道办事处"]["overdue"] == 3 and by_agency["社区居委会"]["overdue"] == 1
    assert sorted(by_agency["街道办事处"]["roles"]) == ["street_clerk"]


def test_reports__overdue_list_with_working_day_ages(login, late_cases):
    supervisor = login("supervisor")
    body = supervisor.get("reports/overdue/tasks").get_json()
    assert body["total"] == 4 and len(body["items"]) == 4
    first = body["items"][0]
    assert first["name"] == "民主评议" and first["overdue_working_days"] == 8
    assert first["case_id"] == late_cases[0].id and first["applicant_name"] == "张三"
    assert first["escalation_level"] >= 1 and first["escalate_to"] in ("street_reviewer", "district_approver",
                                                                        "supervisor")
    assert [i["overdue_working_days"] for i in body["items"][1:]] == [3, 3, 3]
    only_anding = supervisor.get("reports/overdue/tasks?group_by=street&key=安定街道").get_json()
    assert only_anding["total"] == 1 and only_anding["items"][0]["street"] == "安定街道"
    old = supervisor.get("reports/overdue/tasks?min_age=4").get_json()
    assert old["total"] == 1 and old["items"][0]["name"] == "民主评议"
    assert supervisor.get("reports/overdue/tasks?min_age=3").get_json()["total"] == 4
    paged = supervisor.get("reports/overdue/tasks?limit=2&offset=2").get_json()
    assert paged["total"] == 4 and len(paged["items"]) == 2
    assert supervisor.get("reports/overdue/tasks?group_by=agency&key=社区居委会").get_json()["total"] == 1
    assert supervisor.get("reports/overdue/tasks?limit=0").status_code == 422


def test_reports__summary_ageing_and_trend(login, late_cases):
    body = login("supervisor").get("reports/overdue/summary").get_json()
    assert body["total"]["overdue"] == 4 and body["total"]["open"] == 5 and body["total"]["escalated"] == 4
    assert sum(b["count"] for b in body["ageing"]) == 4
    assert [b["count"] for b in body["ageing"][:3]] == [0, 3, 1]  # 3 wd (3–5 bucket), 8 wd (6–10 bucket)
    assert len(body["trend"]) == 8 and body["trend"][-1]["week_start"] == "2026-03-16"
    this_week, last_week = body["trend"][-1], body["trend"][-2]
    assert this_week["overdue"] == 3 and last_week["overdue"] == 1  # the appraisal went overdue Tue 10 Mar
    assert this_week["reminded"] == 3 and last_week["reminded"] == 0  # the appraisal's came too late to send
    # The appraisal: level 1 on Tue 10 Mar, levels 2 and 3 (due Thu 12, Sat 14 Mar 00:00) caught up on Mon 16 Mar;
    # the surveys: level 1 at 24:00 Mon 16, level 2 after Tue 17 and Wed 18 Mar.
    assert last_week["escalated"] == 1 and this_week["escalated"] == 2 + 3 * 2


def test_reports__export_to_excel(login, late_cases):
    from openpyxl import load_workbook

    response = login("supervisor").get("reports/overdue/tasks?format=xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    rows = list(book["逾期任务"].iter_rows(values_only=True))
    assert rows[1][:4] == ("任务编号", "案件编号", "申请人", "环节")
    data = rows[2:]
    assert len(data) == 4
    assert data[0][3] == "民主评议" and data[0][11] == 8 and data[0][4] == "社区社会保障工作者"
    assert isinstance(data[0][10], datetime)  # due time as a local Excel date-time


def test_reports__scope_and_roles(login, late_cases):
    lead = login("jd_anding_lead").get("reports/overdue?group_by=street").get_json()
    assert [g["key"] for g in lead["items"]] == ["安定街道"] and lead["total"]["overdue"] == 1
    assert login("jd_anding_lead").get("reports/overdue/tasks").get_json()["total"] == 1
    for user in ("sq_heping", "jd_heping", "cz_payer"):
        assert login(user).get("reports/overdue").status_code == 403, user
        assert login(user).get("reports/overdue/tasks").status_code == 403, user
    assert login("supervisor").get("reports/overdue?group_by=nonsense").status_code == 422


def test_reports__empty_when_nothing_is_late(login):
    body = login("supervisor").get("reports/overdue/summary").get_json()
    assert body["total"] == {"open": 0, "overdue": 0, "escalated": 0, "paused": 0, "instances_overdue": 0}
    assert login("supervisor").get("reports/overdue/tasks").get_json() == {
        "as_of": body["as_of"], "total": 0, "limit": 50, "offset": 0, "items": []}

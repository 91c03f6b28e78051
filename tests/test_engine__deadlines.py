"""engine.deadlines pieces and the deadline plumbing around them: the escalation policy, working-day ages, calendar
functions in BPMN scripts, whole-instance time limits, admin calendar overrides, deploy-time refusals."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select

from engine import clock
from engine.calendar import BusinessCalendar
from engine.deadlines import EscalationPolicy, escalation_due, overdue_working_days
from engine.models import AuditEntry, CalendarOverride, OutboxEvent, ProcessInstance
from tests.bpmn_samples import HEADER
from tests.scenario import Dibao, advance
from web.deadline_service import refresh_calendar
from web.extensions import db
from workflows import escalation

DIBAO = Path(__file__).resolve().parents[1] / "bpmn" / "dibao.bpmn"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def put(client, path: str, **kwargs):
    return client._call("put", path, **kwargs)  # the shared ApiClient has get and post only


def delete(client, path: str, **kwargs):
    return client._call("delete", path, **kwargs)


# -- pure functions -----------------------------------------------------------------------------------------------

def test_deadlines__policy_chain_street_district_supervisor():
    policy = escalation.policy()
    assert policy.first_target("street_reviewer", "street_clerk") == "street_reviewer"
    assert policy.first_target(None, "street_clerk") == "street_reviewer"  # no escalateTo: one level up
    assert policy.next_target("street_reviewer") == "district_approver"
    assert policy.next_target("district_approver") == "supervisor"
    assert policy.next_target("supervisor") is None
    assert escalation.chain_from("community_worker") == ["street_reviewer", "district_approver", "supervisor"]
    assert policy.recipients("street_reviewer", "示范区", "和平街道", "和平里社区") == {
        "role": "street_reviewer", "district": "示范区", "street": "和平街道", "community": None}
    assert policy.recipients("supervisor", "示范区", "和平街道", "和平里社区")["street"] is None
    with pytest.raises(ValueError):
        EscalationPolicy(repeat_after_working_days=0)


@pytest.mark.parametrize("now, age", [
    ("2026-03-10T23:59:59+08:00", 0),   # due 24:00 Tue 10 Mar: not yet
    ("2026-03-11T00:00:00+08:00", 1),   # Wednesday has begun: 1 working day late
    ("2026-03-11T18:00:00+08:00", 1),
    ("2026-03-12T09:00:00+08:00", 2),
    ("2026-03-16T09:00:00+08:00", 4),   # Wed, Thu, Fri, Mon
])
def test_deadlines__overdue_age_counts_working_days(now, age):
    assert overdue_working_days(BusinessCalendar(), at("2026-03-11T00:00:00+08:00"), at(now)) == age


def test_deadlines__overdue_age_over_a_weekend_and_national_day():
    calendar = BusinessCalendar()
    due_friday = at("2026-03-07T00:00:00+08:00")  # 24:00 Fri 6 Mar
    assert overdue_working_days(calendar, due_friday, at("2026-03-08T12:00:00+08:00")) == 0
    assert overdue_working_days(calendar, due_friday, at("2026-03-09T08:00:00+08:00")) == 1
    due_before_holiday = at("2026-10-01T00:00:00+08:00")  # 24:00 Wed 30 Sep
    assert overdue_working_days(calendar, due_before_holiday, at("2026-10-07T12:00:00+08:00")) == 0
    assert overdue_working_days(calendar, due_before_holiday, at("2026-10-10T12:00:00+08:00")) == 3  # 8, 9, 10


def test_deadlines__next_level_after_further_working_days():
    calendar = BusinessCalendar()
    due = at("2026-10-16T00:00:00+08:00")  # 24:00 Thu 15 Oct
    assert escalation_due(calendar, due, 1, 2) == at("2026-10-20T00:00:00+08:00")  # Fri 16, Mon 19
    assert escalation_due(calendar, due, 2, 2) == at("2026-10-22T00:00:00+08:00")
    assert escalation_due(calendar, due, 1, 1) == at("2026-10-17T00:00:00+08:00")


# -- BPMN script functions and whole-instance limits --------------------------------------------------------------

def _scripted(key: str, script: str) -> str:
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="时限脚本" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            f'<bpmn:scriptTask id="compute" name="计算"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
            '<bpmn:userTask id="work" name="办理"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="dueInWorkingDays" value="3" /></spiffworkflow:properties>'
            '</bpmn:extensionElements></bpmn:userTask>'
            '<bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="work" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")


def _deploy(login, xml: str):
    response = login("designer").post("process-definitions", data=xml, headers={"Content-Type": "application/xml"})
    assert response.status_code in (200, 201), response.get_json()
    return response


def test_deadlines__calendar_functions_in_scripts(app, login):
    clock.active().set(at("2026-09-24T10:00:00+08:00"))
    _deploy(login, _scripted("calc", "\n".join([
        "deadline = add_working_days('2026-09-24T10:00:00+08:00', 10)",
        "from_now = working_deadline(3)",
        "days = working_days_between('2026-09-24T10:00:00+08:00', '2026-10-16T10:00:00+08:00')",
        "so_far = working_days_between('2026-09-21T10:00:00+08:00')",
    ])))
    clerk = login("jd_heping")
    started = clerk.post("process-instances", json={"process_key": "calc"}).get_json()
    task = clerk.get(f"tasks?process_instance_id={started['id']}").get_json()["items"][0]
    data = clerk.get(f"tasks/{task['id']}").get_json()
    assert at(task["due_at"]) == at("2026-10-01T00:00:00+08:00")  # 3 working days: 28, 29, 30 Sep

    with app.app_context():
        instance = db.session.get(ProcessInstance, started["id"])
        workflow = app.extensions["jiuzhu.engine"].workflow_of(instance)
        ready = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "work"][0].data
        db.session.remove()
    assert ready["deadline"] == "2026-10-16T00:00:00+08:00"
    assert ready["from_now"] == "2026-10-01T00:00:00+08:00"
    assert ready["days"] == 11  # 28, 29, 30 Sep, 8, 9, 10 (make-up), 12–16 Oct
    assert ready["so_far"] == 3  # 22, 23, 24 Sep: the day it starts from is not counted
    assert data["id"] == task["id"]


def test_deadlines__whole_instance_limit_set_extended_and_overdue(app, login):
    _deploy(login, _scripted("limited", "case_due_at = case_time_limit(30, 45)"))
    clerk = login("jd_heping")
    started = clerk.post("process-instances", json={"process_key": "limited"}).get_json()
    info = clerk.get(f"process-instances/{started['id']}/deadlines").get_json()
    # Mon 2 Mar 2026 + 30 working days (Qingming 4–6 Apr off) = 24:00 Tue 14 Apr.
    assert info["time_limit_days"] == 30 and info["time_limit_max_days"] == 45
    assert at(info["due_at"]) == at("2026-04-15T00:00:00+08:00")
    assert info["overdue"] is False
    lead = login("jd_heping_lead")
    assert lead.post(f"process-instances/{started['id']}/extend",
                     json={"working_days": 50, "reason": "情况复杂"}).status_code == 422
    assert clerk.post(f"process-instances/{started['id']}/extend",
                      json={"working_days": 45, "reason": "情况复杂"}).status_code == 403
    response = lead.post(f"process-instances/{started['id']}/extend", json={"working_days": 45, "reason": "情况复杂"})
    assert response.status_code == 200, response.get_json()
    # 15 more working days after Tue 14 Apr: 15–17, 20–24, 27–30 Apr (Labour Day 1–5 May), 6–8 May.
    assert at(response.get_json()["due_at"]) == at(
        BusinessCalendar().add_working_days(at("2026-04-14T12:00:00+08:00"), 15).isoformat())
    assert lead.post(f"process-instances/{started['id']}/extend",
                     json={"working_days": 45, "reason": "再延"}).status_code == 422

    advance(login, "P80D")
    info = clerk.get(f"process-instances/{started['id']}/deadlines").get_json()
    assert info["overdue"] is True and info["overdue_at"] is not None
    advance(login, "P1D")

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxEvent)
                                 .where(OutboxEvent.event_type == "process.overdue")) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "process_overdue")) == 1
        db.session.remove()
    summary = login("supervisor").get("reports/overdue/summary").get_json()
    assert summary["total"]["instances_overdue"] == 1


def test_deadlines__pause_from_a_script(app, login):
    _deploy(login, _scripted("paused", "pause_time_limits('等待申请人补正材料')"))
    clerk = login("jd_heping")
    started = clerk.post("process-instances", json={"process_key": "paused"}).get_json()
    info = clerk.get(f"process-instances/{started['id']}/deadlines").get_json()
    assert info["paused_at"] is not None and info["tasks"][0]["paused_at"] is not None


# -- admin calendar overrides ------------------------------------------------------------------------------------

@pytest.fixture
def clean_overrides(app):
    yield

    with app.app_context():
        db.session.execute(sql_delete(CalendarOverride))
        db.session.commit()
        refresh_calendar(app)
        db.session.remove()


def test_deadlines__admin_overrides_move_new_deadlines(app, login, clean_overrides):
    admin = login("admin")
    query = "calendar/working-days?start=2026-03-02T09:00:00%2B08:00&days=10"
    assert at(admin.get(query).get_json()["deadline"]) == at("2026-03-17T00:00:00+08:00")
    # A typhoon closes the offices on Wed 4 Mar; Sat 14 Mar becomes a duty day.
    assert put(admin, "calendar/overrides/2026-03-04", json={"is_workday": False, "note": "台风停工"}).status_code == 200
    assert put(admin, "calendar/overrides/2026-03-14", json={"is_workday": True, "note": "补班"}).status_code == 200
    assert at(admin.get(query).get_json()["deadline"]) == at("2026-03-17T00:00:00+08:00")  # −1 +1
    put(admin, "calendar/overrides/2026-03-14", json={"is_workday": False, "note": "取消补班"})
    assert at(admin.get(query).get_json()["deadline"]) == at("2026-03-18T00:00:00+08:00")

    case = Dibao(login)
    case.accept()
    assert at(case.open_task("household_survey", "jd_heping")["due_at"]) == at("2026-03-18T00:00:00+08:00")
    listed = login("supervisor").get("calendar/overrides?year=2026").get_json()
    assert [o["day"] for o in listed["items"]] == ["2026-03-04", "2026-03-14"]
    assert 2026 in listed["official_years"] and 2028 in listed["uncovered_years"]
    count = admin.get("calendar/working-days?start=2026-03-02T09:00:00%2B08:00&end=2026-03-09T09:00:00%2B08:00")
    assert count.get_json()["working_days"] == 4  # 3, 5, 6, 9 Mar (4 Mar off)
    assert delete(admin, "calendar/overrides/2026-03-04").status_code == 200
    assert delete(admin, "calendar/overrides/2026-03-04").status_code == 404


def test_deadlines__overrides_for_an_uncovered_year(app, login, clean_overrides):
    calendar_before = app.extensions["jiuzhu.engine"].calendar
    assert not calendar_before.covers(2030)
    admin = login("admin")
    # 2030 National Day, as a State Council notice would publish it: 1–7 Oct off, Sun 29 Sep a workday.
    for day in range(1, 8):
        assert put(admin, f"calendar/overrides/2030-10-0{day}", json={"is_workday": False}).status_code == 200
    put(admin, "calendar/overrides/2030-09-29", json={"is_workday": True, "note": "调休上班"})
    calendar = app.extensions["jiuzhu.engine"].calendar
    assert calendar.is_workday(date(2030, 9, 29)) and not calendar.is_workday(date(2030, 10, 2))
    body = admin.get("calendar/working-days?start=2030-09-27T09:00:00%2B08:00&days=3").get_json()
    assert at(body["deadline"]) == at("2030-10-09T00:00:00+08:00")  # Sun 29, Mon 30 Sep, Tue 8 Oct


@pytest.mark.parametrize("path, body, status", [
    ("calendar/overrides/2026-13-01", {"is_workday": True}, 422),
    ("calendar/overrides/2026-03-04", {}, 422),
    ("calendar/overrides/2026-03-04", {"is_workday": "sometimes"}, 422),
])
def test_deadlines__bad_overrides_refused(login, path, body, status, clean_overrides):
    assert put(login("admin"), path, json=body).status_code == status


def test_deadlines__only_admin_edits_the_calendar(login):
    assert put(login("supervisor"), "calendar/overrides/2026-03-04", json={"is_workday": False}).status_code == 403
    assert login("supervisor").get("calendar/working-days?days=0").status_code == 422
    assert login("supervisor").get("calendar/working-days").status_code == 422


# -- deploy-time refusals through the API ------------------------------------------------------------------------

def _dibao(**replace: str) -> str:
    xml = DIBAO.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in xml, old
        xml = xml.replace(old, new, 1)
    return xml


@pytest.mark.parametrize("old, new, element, needle", [
    ('<spiffworkflow:property name="dueInWorkingDays" value="10" />',
     '<spiffworkflow:property name="dueInWorkingDays" value="0" />', "household_survey", "dueInWorkingDays"),
    ('<spiffworkflow:property name="dueInWorkingDays" value="5" />',
     '<spiffworkflow:property name="dueInWorkingDays" value="五" />', "appraisal", "dueInWorkingDays"),
    ('<spiffworkflow:property name="dueInWorkingDays" value="3" />',
     '<spiffworkflow:property name="dueInWorkingDays" value="-3" />', "refusal_notice", "dueInWorkingDays"),
    ('<spiffworkflow:property name="escalateTo" value="supervisor" />',
     '<spiffworkflow:property name="escalateTo" value="mayor" />', "approval", "mayor"),
    ('>"P7D"</bpmn:timeDuration>', ">P7D</bpmn:timeDuration>", "notice_period", "引号"),
])
def test_deadlines__bad_limits_refused_at_deploy_with_the_element(login, old, new, element, needle):
    response = login("designer").post("process-definitions", data=_dibao(**{old: new}),
                                      headers={"Content-Type": "application/xml"})
    assert response.status_code == 422
    problems = response.get_json()["error"]["problems"]
    assert any(p["element_id"] == element and needle in p["message"] for p in problems), problems


# -- rule sets -----------------------------------------------------------------------------------------------------

def test_deadlines__rule_sets_listed_and_chosen(login):
    admin = login("admin")
    listed = admin.get("rule-sets").get_json()
    dibao = next(p for p in listed["programs"] if p["program"] == "dibao")
    assert dibao["default"] == "dibao" and [c["process_key"] for c in dibao["choices"]] == ["dibao", "dibao_2021"]
    assert put(admin, "rule-sets/示范区/dibao", json={"process_key": "tekun"}).status_code == 422
    assert put(admin, "rule-sets/无此区/dibao", json={"process_key": "dibao_2021"}).status_code == 422
    assert put(login("supervisor"), "rule-sets/示范区/dibao", json={"process_key": "dibao_2021"}).status_code == 403
    assert put(admin, "rule-sets/示范区/dibao", json={"process_key": "dibao_2021"}).status_code == 200
    assert login("supervisor").get("rule-sets").get_json()["districts"][0]["process_key"] == "dibao_2021"

"""Whole 低保 cases through the HTTP API with the simulated clock.

Every step of every scenario restores the workflow from its stored state and saves it again (the engine keeps no
workflow in memory between requests), so each scenario is also a save/restore round trip at every step.
"""
from tests.scenario import Dibao, advance


def test_scenario__approved_case_end_to_end(login):
    case = Dibao(login, members=2, income=800.0)
    assert case.stage_elements() == {"accept"}
    case.through_street(income=800.0)
    body = case.case()
    assert body["stage"] == "公示中"
    # (1395 − 800/2) × 2 = 1990, plus the 20% top-up of the standard for the child: 279.
    assert body["proposed_amount"] == 2269.0
    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve()
    case.set_up_payment()
    body = case.case()
    assert body["status"] == "approved"
    assert body["amount"] == 2269.0
    actions = [(h["action"], h["element_id"]) for h in body["history"]]
    assert ("task_completed", "approval") in actions
    assert ("process_completed", None) in actions
    approval = [h for h in body["history"] if h["element_id"] == "approval" and h["action"] == "task_completed"][0]
    assert approval["actor"] == "qu_approver" and approval["opinion"] == "同意"


def test_scenario__refused_by_district_reason_in_history(login):
    case = Dibao(login)
    case.through_street()
    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve(decision="reject", opinion="抽查发现有未申报的经营收入")
    case.refusal_notice(reason="经抽查，家庭有未申报经营收入，不符合低保条件")
    body = case.case()
    assert body["status"] == "refused"
    assert body["refusal_reason"] == "经抽查，家庭有未申报经营收入，不符合低保条件"
    opinions = [h["opinion"] for h in body["history"]]
    assert "抽查发现有未申报的经营收入" in opinions


def test_scenario__objection_during_notice_reinvestigates(login):
    case = Dibao(login)
    case.through_street()
    advance(login, "P3D")
    response = login("sq_heping").post(f"cases/{case.id}/objections", json={"reason": "邻居反映其有私家车"})
    assert response.status_code == 201, response.get_json()
    assert case.stage_elements() == {"reinvestigation"}
    case.survey(element_id="reinvestigation")
    case.appraise()
    case.street_review()
    advance(login, "P8D")
    # Objected cases are always visited.
    assert case.spot_check_if_selected() is True
    case.approve()
    case.set_up_payment()
    body = case.case()
    assert body["status"] == "approved" and body["objected"] is True and body["spot_checked"] is True


def test_scenario__objection_outside_notice_is_409(login):
    case = Dibao(login)
    response = login("sq_heping").post(f"cases/{case.id}/objections", json={"reason": "反映情况"})
    assert response.status_code == 409


def test_scenario__relatives_filed_case_always_visited(login):
    case = Dibao(login)
    case.through_street(relatives=True)
    advance(login, "P8D")
    assert case.spot_check_if_selected() is True
    assert case.case()["relatives_filed"] is True


def test_scenario__refused_by_street_review(login):
    case = Dibao(login)
    case.accept()
    case.survey()
    case.economic_check()
    case.appraise()
    case.street_review(decision="reject", opinion="人均收入超过标准")
    case.refusal_notice(reason="人均收入超过标准")
    body = case.case()
    assert body["status"] == "refused"
    assert body["refusal_reason"] == "人均收入超过标准"


def test_scenario__notice_timer_does_not_fire_early(login):
    case = Dibao(login)
    case.through_street()
    advance(login, "P6D")
    assert case.case()["stage"] == "公示中"
    waiting = login("admin").get(f"process-instances/{case.instance_id}").get_json()["waiting"]
    assert {w["type"] for w in waiting} == {"timer", "message"}
    advance(login, "P2D")
    assert case.case()["stage"] != "公示中"

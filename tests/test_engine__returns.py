"""退回: sending an open task back to an earlier user task, through the API (one engine step each)."""
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from engine.models import AuditEntry, HumanTask, OutboxEvent, ProcessInstance, TaskStatus
from engine.returns import return_targets
from engine.runtime import waiting_of
from tests.scenario import Dibao, advance
from workflows.models import User


def _return(login, user, task_id, to, reason="材料不全，请补充"):
    return login(user).post(f"tasks/{task_id}/return", json={"to": to, "reason": reason})


def test_engine__return_targets_are_earlier_user_tasks(app, login, engine):
    case = Dibao(login)
    accept = case.open_task("accept", "jd_heping")
    assert login("jd_heping").get(f"tasks/{accept['id']}").get_json()["return_targets"] == []
    case.through_street()
    notice_ready = case.case()
    assert notice_ready["stage"] == "公示中"
    case2 = Dibao(login)
    case2.accept()
    case2.survey()
    case2.economic_check()
    case2.appraise()
    review = case2.open_task("street_review", "jd_heping_lead")
    with app.app_context():
        targets = [t.element_id for t in return_targets(engine, review["id"])]
    # Oldest first; the survey ran on a parallel branch beside the economic check and is offered too.
    assert targets == ["accept", "relatives_check", "household_survey", "appraisal"]
    body = login("jd_heping_lead").get(f"tasks/{review['id']}").get_json()
    assert [t["name"] for t in body["return_targets"]] == ["受理", "近亲属备案核查", "入户调查", "民主评议"]


def test_engine__return_across_parallel_branch_reruns_the_join_once(app, login, engine):
    case = Dibao(login)
    case.accept()
    case.survey(income=800.0)
    case.economic_check(income=800.0)
    case.appraise()
    review = case.open_task("street_review", "jd_heping_lead")
    login("jd_heping_lead").post(f"tasks/{review['id']}/claim")
    response = _return(login, "jd_heping_lead", review["id"], "household_survey", "收入核实不充分，请重新入户")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["returned"]["status"] == "cancelled"
    # Back on the desk of the clerk who did the survey, not in the group pool.
    assert body["task"]["element_id"] == "household_survey" and body["task"]["assignee"] == "jd_heping"
    assert case.stage_elements() == {"household_survey"}
    # Nothing waits for a second economic check: that branch had finished and is kept.
    with app.app_context():
        instance = engine.session.get(ProcessInstance, case.instance_id)
        assert [w for w in instance.waiting if w["type"] == "message"] == []
    case.survey(income=1000.0)
    assert case.stage_elements() == {"appraisal"}  # the join fired once, no second street review
    case.appraise()
    # 1000 against the check's 800 is a discrepancy the review has to decide (workflows.income).
    case.street_review(flag_decisions={"income_discrepancy": {"decision": "upheld", "opinion": "重新入户核实为 1000 元"}})
    body = case.case()
    assert body["stage"] == "公示中"
    # The redone survey's income counts: (1395 − 1000/2) × 2 + 20% of 1395 for the child.
    assert body["proposed_amount"] == (1395 - 500) * 2 + 279.0
    returned = [h for h in body["history"] if h["action"] == "task_returned"]
    assert returned[0]["opinion"] == "收入核实不充分，请重新入户"
    assert returned[0]["detail"]["to"] == "household_survey"
    with app.app_context():
        events = engine.session.scalars(select(OutboxEvent.event_type)
                                        .where(OutboxEvent.instance_id == case.instance_id)).all()
        assert "task.returned" in events


def test_engine__return_drops_waiting_events_and_restarts_the_check(app, login, engine):
    case = Dibao(login)
    case.accept()
    survey = case.open_task("household_survey", "jd_heping")
    with app.app_context():
        instance = engine.session.get(ProcessInstance, case.instance_id)
        assert any(w["name"] == "economic_check.completed" for w in instance.waiting)
    response = _return(login, "jd_heping", survey["id"], "accept", "申请材料缺少户口簿")
    assert response.status_code == 200, response.get_json()
    assert case.stage_elements() == {"accept"}
    with app.app_context():
        instance = engine.session.get(ProcessInstance, case.instance_id)
        assert instance.waiting == []
        workflow = engine.workflow_of(instance)
        assert waiting_of(workflow) == []
        assert all(t.id in t.workflow.tasks for t in workflow.event_manager.tasks.values())
    # The flow runs on normally: a new economic check is requested and answered.
    case.accept()
    case.survey()
    case.economic_check()
    case.appraise()
    assert case.stage_elements() == {"street_review"}
    with app.app_context():
        requested = engine.session.scalars(select(OutboxEvent).where(
            OutboxEvent.instance_id == case.instance_id, OutboxEvent.event_type == "economic_check.requested")).all()
        assert len(requested) == 2


def test_engine__return_from_approval_reopens_street_review_and_notice(app, login, engine):
    case = Dibao(login)
    case.through_street()
    advance(login, "P8D")
    case.spot_check_if_selected()
    approval = case.open_task("approval", "qu_approver")
    response = _return(login, "qu_approver", approval["id"], "street_review", "审核意见不完整")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["task"]["assignee"] == "jd_heping_lead"
    case.street_review()
    assert case.case()["stage"] == "公示中"


def test_engine__return_refusals(app, login, engine):
    case = Dibao(login)
    case.accept()
    survey = case.open_task("household_survey", "jd_heping")
    # No reason.
    response = _return(login, "jd_heping", survey["id"], "accept", "  ")
    assert response.status_code == 422
    assert "reason" in response.get_json()["error"]["fields"]
    # Not an earlier step.
    response = _return(login, "jd_heping", survey["id"], "approval")
    assert response.status_code == 422 and "to" in response.get_json()["error"]["fields"]
    # Another jurisdiction cannot see it; another role may not work it.
    assert _return(login, "jd_anding", survey["id"], "accept").status_code == 404
    assert _return(login, "jd_heping_lead", survey["id"], "accept").status_code == 403
    # Claimed by someone else.
    login("jd_heping").post(f"tasks/{survey['id']}/claim")
    with app.app_context():  # a second clerk of 和平街道

        engine.session.add(User(username="jd_heping2", display_name="和平街道 王强", role="street_clerk",
                                password_hash=generate_password_hash("demo"), district="示范区", street="和平街道",
                                active=True, failed_logins=0))
        engine.session.commit()
    assert _return(login, "jd_heping2", survey["id"], "accept").status_code == 409
    # After completion it is stale.
    case.survey()
    assert _return(login, "jd_heping", survey["id"], "accept").status_code == 409
    with app.app_context():
        assert not engine.session.scalars(select(AuditEntry).where(AuditEntry.action == "task_returned")).all()
        row = engine.session.get(HumanTask, survey["id"])
        assert row.status == TaskStatus.COMPLETED

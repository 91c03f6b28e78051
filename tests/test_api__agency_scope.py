"""Agency scope and the operations' edges: a member agency's task is handed over only within that agency; agency staff
do not read 民政's register or payments; an agency role without an agency sees nothing; 撤回 stops once aid was
granted or a lead agency decided; complaint and review instances are not terminated by hand nor started under their
keys; a script writes only to the case (or complaint) of its own instance."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.agency_cases import XML, agency_case, deploy_agency_process
from tests.bpmn_samples import HEADER
from tests.scenario import ComplaintFlow, Dibao, Linshi
from tests.test_scenario__zhuanxiang import complete, open_case, through_units
from tests.ui_pages import PageClient, add_user


def _aid_records(app, case_id: int) -> list[tuple[str, str]]:
    from web.extensions import db
    from workflows.aid.models import AidRecord

    with app.app_context():
        return [(r.program, r.status.value) for r in db.session.scalars(
            select(AidRecord).where(AidRecord.case_id == case_id).order_by(AidRecord.id))]


# -- 转办 / 委派 stay inside the agency ---------------------------------------------------------------------------
def test_agency_scope__handover_only_to_the_same_agency(app, login):
    deploy_agency_process(login, "agency_minzheng", "区民政局", name="民政核查")
    case = agency_case(app, "agency_minzheng", program="zhukun")
    add_user(app, "mz_zhuanxiang2", "区民政局 经办人二", "agency_officer")
    from web.extensions import db
    from workflows.models import User

    with app.app_context():
        db.session.scalars(select(User).where(User.username == "mz_zhuanxiang2")).one().agency = "区民政局"
        db.session.commit()
    officer = login("mz_zhuanxiang")
    assert officer.post(f"tasks/{case.task_id}/claim").status_code == 200
    for kind in ("transfer", "delegate"):
        refused = officer.post(f"tasks/{case.task_id}/{kind}", json={"to": "canlian", "reason": "请办理"})
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["error"]["fields"]["to"] == ["不是承办单位的人员"]
    assert login("canlian").get(f"tasks/{case.task_id}").status_code == 404  # still not theirs

    from engine.models import HumanTask
    from workflows.tasks.handover import colleagues_for

    with app.app_context():
        task = db.session.get(HumanTask, case.task_id)
        names = [u.username for u in colleagues_for(db.session, task, exclude="mz_zhuanxiang")]
        db.session.remove()
    assert names == ["mz_zhuanxiang2"]  # the other agencies' officers are not offered

    moved = officer.post(f"tasks/{case.task_id}/transfer", json={"to": "mz_zhuanxiang2", "reason": "请办理"})
    assert moved.status_code == 200 and moved.get_json()["assignee"] == "mz_zhuanxiang2"


# -- the register and payments are 民政's ---------------------------------------------------------------------------
@pytest.mark.parametrize("user", ["jiaowei", "jiaowei_lead", "mz_zhuanxiang", "mz_zhuanxiang_lead"])
def test_agency_scope__agency_staff_do_not_read_the_register(app, login, user):
    from tests.test_workflows__reviews import make_recipient
    from web.extensions import db

    with app.app_context():
        rid = make_recipient(db.session, next_review_due=None).id
        db.session.remove()
    assert login("jd_heping").post(f"recipients/{rid}/events", json={"type": "income_change"}).status_code == 201
    assert login("qu_approver").get(f"recipients/{rid}").status_code == 200  # 民政 reads it
    client = login(user)
    for path in ("recipients", f"recipients/{rid}", "reviews", "payment-runs"):
        response = client.get(path)
        assert response.status_code == 403, (path, response.get_json())
    page = PageClient(app, user)
    for path in ("/recipients", f"/recipients/{rid}", "/recipients/export.xlsx"):
        response = page.get(path)
        assert response.status_code == 403 and "无权查看保障对象台账" in response.get_data(as_text=True), path
    # The payments page sends any role it does not serve back home (web.ui.common.roles_required).
    response = page.get("/payments/")
    assert response.status_code == 302 and "/payments" not in response.headers["Location"]


# -- an agency role without an agency sees nothing --------------------------------------------------------------
def test_agency_scope__agency_role_without_agency_fails_closed(app, login):
    case = Dibao(login)  # street tasks: no agency on them
    add_user(app, "no_agency", "未设单位的经办人", "agency_officer")
    client = login("no_agency")
    for view in ("mine", "group", "todo", "all"):
        assert client.get(f"tasks?view={view}").get_json()["items"] == [], view
    task = case.open_task("accept", "jd_heping")
    assert client.get(f"tasks/{task['id']}").status_code == 404
    assert client.get("cases").get_json()["items"] == []
    assert client.get(f"cases/{case.id}").status_code == 404
    assert client.get(f"process-instances/{case.instance_id}").status_code == 404

    from engine.models import HumanTask, ProcessInstance
    from web.extensions import db
    from workflows import access
    from workflows.models import Case, User

    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "no_agency")).one()
        row = db.session.get(HumanTask, task["id"])
        assert not access.in_task_scope(user, row)
        assert not access.can_see_case(user, db.session.get(Case, case.id))
        assert not access.can_see_instance(user, db.session.get(ProcessInstance, case.instance_id))
        assert db.session.scalars(select(HumanTask.id).where(access.task_scope_filter(user))).all() == []
        assert db.session.scalars(select(Case.id).where(access.case_filter(user))).all() == []
        db.session.remove()


# -- 撤回 after aid was granted or a lead agency decided ----------------------------------------------------------
def test_agency_scope__no_withdrawal_after_emergency_aid_was_paid(app, login):
    case = Linshi(login, kind="emergency", requested_amount=3000)
    case.complete("emergency_grant", "jd_heping", {"decision": "approve", "amount": "3000.00"})
    assert _aid_records(app, case.id) == [("linshi", "active")]
    response = login("jd_heping").post(f"cases/{case.id}/withdraw", json={"reason": "申请人要求撤回"})
    assert response.status_code == 409, response.get_json()
    assert case.case()["status"] == "in_progress"


def test_agency_scope__no_withdrawal_once_the_aid_register_has_the_case(app, login):
    case = Dibao(login)
    case.accept()
    from web.extensions import db
    from workflows.aid.records import record_aid
    from workflows.models import Case

    engine = app.extensions["jiuzhu.engine"]
    with app.app_context():
        record_aid(db.session, db.session.get(Case, case.id), program="linshi", agency="街道办事处",
                   now=engine.now(), period_from=date(2026, 3, 2), amount=None, monthly=False)
        db.session.commit()
        db.session.remove()
    response = login("sq_heping").post(f"cases/{case.id}/withdraw", json={"reason": "申请人要求撤回"})
    assert response.status_code == 409, response.get_json()
    assert case.case()["status"] == "in_progress"


def test_agency_scope__no_withdrawal_after_the_lead_agencys_decision(app, login):
    case = open_case(login, "zhulao")  # opened by the street clerk jd_heping
    through_units(login, "zhulao", case["id"])
    complete(login, case["id"], "assess", "mz_zhuanxiang", {
        "recommendation": "not_support", "aid_item": "助餐补贴", "assessment_opinion": "已享受同类救助"})
    complete(login, case["id"], "decide", "mz_zhuanxiang_lead", {"decision": "reject", "reason": "已享受同类救助"})
    # The written refusal is still open with the street: the decision is made all the same.
    response = login("jd_heping").post(f"cases/{case['id']}/withdraw", json={"reason": "申请人要求撤回"})
    assert response.status_code == 409, response.get_json()
    assert login("admin").get(f"cases/{case['id']}").get_json()["status"] == "in_progress"


# -- complaint and review instances -------------------------------------------------------------------------------
def test_agency_scope__complaint_and_review_instances_are_not_terminated(app, login):
    dibao = Dibao(login)
    complaint = ComplaintFlow(login, case_id=dibao.id)
    response = login("admin").post(f"process-instances/{complaint.instance_id}/terminate", json={"reason": "终止"})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "投诉举报须在其流程中办结，不能终止"
    assert complaint.detail()["status"] == "received"
    assert login("admin").get(f"process-instances/{complaint.instance_id}").get_json()["status"] == "running"

    from tests.test_workflows__reviews import make_recipient
    from web.extensions import db

    with app.app_context():
        rid = make_recipient(db.session, next_review_due=None).id
        db.session.remove()
    assert login("jd_heping").post(f"recipients/{rid}/events", json={"type": "income_change"}).status_code == 201
    [review] = login("qu_approver").get(f"reviews?recipient_id={rid}").get_json()["items"]
    response = login("qu_approver").post(f"process-instances/{review['process_instance_id']}/terminate",
                                         json={"reason": "终止"})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "定期复核须在其流程中办结，不能终止"
    assert login("qu_approver").get(f"reviews?recipient_id={rid}").get_json()["items"][0]["status"] == "open"


@pytest.mark.parametrize("key", ["complaint:1", "review:1", "complaint:x"])
def test_agency_scope__complaint_and_review_keys_are_reserved(login, key):
    login("designer").post("process-definitions", data=script_process("bare_demo", "x = 1"), headers=XML)
    response = login("jd_heping").post("process-instances", json={"process_key": "bare_demo", "business_key": key})
    assert response.status_code == 422, response.get_json()
    assert "business_key" in response.get_json()["error"]["fields"]


# -- scripts write only to their own case -------------------------------------------------------------------------
def script_process(key: str, script: str) -> str:
    """start → one script task → end."""
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="脚本" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            f'<bpmn:scriptTask id="run" name="执行" scriptFormat="python"><bpmn:script>{script}</bpmn:script>'
            '</bpmn:scriptTask><bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="run" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="run" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")


@pytest.mark.parametrize("script", [
    "x = linshi_pay(case_id, 100, 'street', 'emergency')",
    "x = linshi_revoke(case_id, 'forged')",
    "x = record_program_aid(case_id, 100, 'forged')",
])
def test_agency_scope__a_script_cannot_write_to_another_instances_case(app, login, script):
    case = Linshi(login, kind="emergency", requested_amount=3000)
    case.complete("emergency_grant", "jd_heping", {"decision": "approve", "amount": "3000.00"})
    assert _aid_records(app, case.id) == [("linshi", "active")]
    deployed = login("designer").post("process-definitions", data=script_process("forge_demo", script), headers=XML)
    assert deployed.status_code in (200, 201), deployed.get_json()
    response = login("jd_heping").post("process-instances", json={
        "process_key": "forge_demo", "business_key": "forge", "data": {"case_id": case.id}})
    assert response.status_code == 422, response.get_json()
    assert "不属于本流程" in response.get_json()["error"]["message"]
    assert _aid_records(app, case.id) == [("linshi", "active")]  # nothing added, nothing revoked


def test_agency_scope__a_script_cannot_change_another_instances_complaint(app, login):
    complaint = ComplaintFlow(login, case_id=Dibao(login).id)
    script = f"x = complaint_unfounded({complaint.id}, 'forged')"
    deployed = login("designer").post("process-definitions", data=script_process("forge_complaint", script),
                                      headers=XML)
    assert deployed.status_code in (200, 201), deployed.get_json()
    response = login("jd_heping").post("process-instances", json={"process_key": "forge_complaint"})
    assert response.status_code == 422, response.get_json()
    assert complaint.detail()["status"] == "received"

"""Inbox, claiming, completing, authorisation by role and jurisdiction, form validation."""
from tests.scenario import Dibao


def test_tasks__other_street_neither_sees_nor_completes(login):
    case = Dibao(login, street="和平街道")
    task = case.open_task("accept", "jd_heping")
    other = login("jd_anding")
    assert other.get(f"tasks/{task['id']}").status_code == 404
    assert other.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "accept"}}).status_code == 404
    assert other.post(f"tasks/{task['id']}/claim").status_code == 404
    assert all(t["id"] != task["id"] for t in other.get("tasks?view=all").get_json()["items"])
    assert other.get(f"cases/{case.id}").status_code == 404


def test_tasks__wrong_role_in_same_street_is_403(login):
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    reviewer = login("jd_heping_lead")
    assert reviewer.get(f"tasks/{task['id']}").status_code == 200  # may see its street's work
    response = reviewer.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "accept"}})
    assert response.status_code == 403


def test_tasks__group_inbox_then_claim_then_mine(login):
    case = Dibao(login)
    clerk = login("jd_heping")
    group = clerk.get("tasks?view=group").get_json()["items"]
    assert [t["element_id"] for t in group if t["case_id"] == case.id] == ["accept"]
    task_id = group[0]["id"]
    assert clerk.post(f"tasks/{task_id}/claim").status_code == 200
    mine = clerk.get("tasks?view=mine").get_json()["items"]
    assert [t["id"] for t in mine] == [task_id]
    assert clerk.get("tasks?view=group").get_json()["items"] == []


def test_tasks__only_claimant_completes(app, login):
    from werkzeug.security import generate_password_hash

    from web.extensions import db
    from workflows.models import User

    with app.app_context():
        db.session.add(User(username="jd_heping2", display_name="和平街道 第二经办人", role="street_clerk",
                            password_hash=generate_password_hash("demo"), district="示范区", street="和平街道",
                            active=True, failed_logins=0))
        db.session.commit()
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    assert login("jd_heping").post(f"tasks/{task['id']}/claim").status_code == 200
    second = login("jd_heping2")
    assert second.post(f"tasks/{task['id']}/claim").status_code == 409
    response = second.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "accept"}})
    assert response.status_code == 409
    assert "认领" in response.get_json()["error"]["message"]


def test_tasks__complete_twice_second_is_409(login):
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    clerk = login("jd_heping")
    first = clerk.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "accept"}})
    assert first.status_code == 200
    second = clerk.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "accept"}})
    assert second.status_code == 409


def test_tasks__reject_without_opinion_is_422_with_field(login):
    case = Dibao(login)
    case.accept()
    case.survey()
    case.economic_check()
    case.appraise()
    task = case.open_task("street_review", "jd_heping_lead")
    response = login("jd_heping_lead").post(f"tasks/{task['id']}/complete",
                                            json={"data": {"decision": "reject"}})
    assert response.status_code == 422
    assert "opinion" in response.get_json()["error"]["fields"]


def test_tasks__survey_needs_two_investigators(login):
    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    response = login("jd_heping").post(f"tasks/{task['id']}/complete", json={"data": {
        "investigators": ["张伟"], "income_items": [{"type": "wage", "amount": -5}]}})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "investigators" in fields and fields["income_items-0-amount"] == ["不能为负数"]
    # Nothing moved: the task is still open.
    assert case.open_task("household_survey", "jd_heping")["status"] == "open"


def test_tasks__show_has_form_schema_and_masked_case(login):
    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    body = login("jd_heping").get(f"tasks/{task['id']}").get_json()
    assert body["form"]["key"] == "dibao_survey"
    schema = body["form"]["schema"]
    assert schema["properties"]["investigators"]["minItems"] == 2
    assert schema["properties"]["investigators"]["title"]
    assert "*" in body["case"]["applicant_id_number"]


def test_tasks__comment_and_transfer(app, login):
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    clerk = login("jd_heping")
    assert clerk.post(f"tasks/{task['id']}/comments", json={"text": "材料待补充户口本"}).status_code == 201
    assert clerk.post(f"tasks/{task['id']}/comments", json={"text": ""}).status_code == 422
    # A colleague of another role cannot receive it.
    refused = clerk.post(f"tasks/{task['id']}/transfer", json={"to": "jd_heping_lead"})
    assert refused.status_code == 422
    history = case.case()["history"]
    assert any(h["action"] == "comment" and h["opinion"] == "材料待补充户口本" for h in history)


def test_tasks__overdue_filter_and_due_dates(login):
    from tests.scenario import advance

    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    assert task["due_at"] is not None and task["overdue"] is False
    advance(login, "P15D")
    overdue = login("jd_heping").get("tasks?overdue=1").get_json()["items"]
    assert [t["element_id"] for t in overdue] == ["household_survey"]
    assert overdue[0]["overdue"] is True
    report = login("supervisor").get("reports/overdue?group_by=step").get_json()
    assert {"key": "入户调查", "open": 1, "overdue": 1} == {k: v for k, v in report["items"][0].items()
                                                           if k in ("key", "open", "overdue")}

"""Generic process instances: start, tasks to the starter, messages, timers, crash safety."""
import pytest

from tests.bpmn_samples import three_steps, with_message_and_timer
from tests.scenario import advance


@pytest.fixture
def deployed(login):
    designer = login("designer")
    for xml in (three_steps(), with_message_and_timer()):
        response = designer.post("process-definitions", data=xml, headers={"Content-Type": "application/xml"})
        assert response.status_code == 201, response.get_json()


def test_instances__laneless_tasks_go_to_the_starter(login, deployed):
    clerk = login("jd_heping")
    started = clerk.post("process-instances", json={"process_key": "three_steps", "data": {"x": 1}})
    assert started.status_code == 201
    body = started.get_json()
    assert [t["name"] for t in body["tasks"]] == ["A"]
    assert body["tasks"][0]["assignee"] == "jd_heping"
    for name in ("A", "B", "C"):
        mine = clerk.get(f"tasks?view=mine&process_instance_id={body['id']}").get_json()["items"]
        assert [t["name"] for t in mine] == [name]
        assert clerk.post(f"tasks/{mine[0]['id']}/complete", json={"data": {"note": name}}).status_code == 200
    final = clerk.get(f"process-instances/{body['id']}").get_json()
    assert final["status"] == "completed" and final["tasks"] == []
    # Another street's clerk cannot see this instance.
    assert login("jd_anding").get(f"process-instances/{body['id']}").status_code == 404


def test_instances__unknown_process_is_404_and_bad_body_422(login, deployed):
    clerk = login("jd_heping")
    assert clerk.post("process-instances", json={"process_key": "nope"}).status_code == 404
    response = clerk.post("process-instances", json={"data": "x"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"process_key", "data"}


def test_instances__message_then_timer(login, deployed):
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "wait_demo"}).get_json()
    assert body["waiting"] == [{"type": "message", "name": "ping", "element_id": "wait_ping"}]
    wrong = clerk.post(f"process-instances/{body['id']}/messages", json={"name": "pong", "payload": {}})
    assert wrong.status_code == 409
    ok = clerk.post(f"process-instances/{body['id']}/messages", json={"name": "ping", "payload": {"a": 1}})
    assert ok.status_code == 200
    waiting = ok.get_json()["waiting"]
    assert waiting[0]["type"] == "timer" and waiting[0]["due_at"].startswith("2026-03-03T01:00:00")
    advance(login, "PT23H")
    assert clerk.get(f"process-instances/{body['id']}").get_json()["tasks"] == []
    advance(login, "PT2H")
    assert [t["name"] for t in clerk.get(f"process-instances/{body['id']}").get_json()["tasks"]] == ["之后"]


def test_instances__crash_mid_step_leaves_previous_state(app, login, deployed):
    """A listener that fails after the workflow moved must roll back state, projection, audit and outbox."""
    from sqlalchemy import func, select

    from engine.models import AuditEntry, HumanTask, OutboxEvent, ProcessInstance
    from web.extensions import db

    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "three_steps"}).get_json()
    task_id = body["tasks"][0]["id"]
    engine = app.extensions["jiuzhu.engine"]

    def counts():
        with app.app_context():
            instance = db.session.get(ProcessInstance, body["id"])
            return (instance.version, instance.state,
                    db.session.scalar(select(func.count()).select_from(HumanTask)),
                    db.session.scalar(select(func.count()).select_from(AuditEntry)),
                    db.session.scalar(select(func.count()).select_from(OutboxEvent)))

    before = counts()

    class Boom:
        def after_step(self, ctx, workflow):
            raise RuntimeError("power cut")

    engine.listeners.append(Boom())
    try:
        response = clerk.post(f"tasks/{task_id}/complete", json={"data": {}})
    finally:
        engine.listeners.pop()
    assert response.status_code == 500
    assert counts() == before
    # And the task still completes afterwards.
    assert clerk.post(f"tasks/{task_id}/complete", json={"data": {}}).status_code == 200


def test_instances__script_error_is_422_and_nothing_changes(login, deployed):
    designer = login("designer")
    xml = three_steps("broken", names=("A",), extra_script="y = undefined_name + 1")
    assert designer.post("process-definitions", data=xml,
                         headers={"Content-Type": "application/xml"}).status_code == 201
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "broken"}).get_json()
    task_id = body["tasks"][0]["id"]
    response = clerk.post(f"tasks/{task_id}/complete", json={"data": {}})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "script_error"
    assert clerk.get(f"tasks/{task_id}").get_json()["status"] == "open"


def test_instances__hostile_bodies_are_4xx(login, deployed):
    clerk = login("jd_heping")
    deep = "[" * 100000 + "]" * 100000
    response = clerk.post("process-instances", data=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert clerk.post("tasks/99999999999999999999/complete", json={}).status_code == 404
    assert clerk.get("process-instances/99999999999999999999").status_code == 404


def test_instances__data_named_like_a_script_function_is_refused(login):
    designer = login("designer")
    from tests.bpmn_samples import three_steps

    xml = three_steps("calls", names=("A",), extra_script="y = compute_subsidy")
    assert designer.post("process-definitions", data=xml,
                         headers={"Content-Type": "application/xml"}).status_code == 201
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "calls",
                                                 "data": {"compute_subsidy": 1}}).get_json()
    response = clerk.post(f"tasks/{body['tasks'][0]['id']}/complete", json={"data": {}})
    assert response.status_code == 422
    assert clerk.get(f"tasks/{body['tasks'][0]['id']}").get_json()["status"] == "open"


def test_instances__cases_cannot_be_started_or_steered_through_the_generic_api(login):
    from tests.scenario import Dibao

    case = Dibao(login, street="和平街道")
    outsider = login("sq_anding")
    # Neither a program's process nor a case's business key may be used here: cases start through POST /cases.
    assert outsider.post("process-instances", json={"process_key": "dibao"}).status_code == 403
    forged = outsider.post("process-instances", json={"process_key": "three_steps",
                                                      "business_key": f"case:{case.id}"})
    assert forged.status_code == 422
    assert login("admin").get(f"cases/{case.id}").get_json()["process_instance_id"] == case.instance_id
    # Staff who see the case may not forge another agency's message to it.
    case.accept()
    clerk = login("jd_heping")
    forged_check = clerk.post(f"process-instances/{case.instance_id}/messages", json={
        "name": "economic_check.completed", "payload": {"passed": True, "monthly_income": 0}})
    assert forged_check.status_code == 403


def test_instances__case_business_key_refused(login, deployed):
    response = login("jd_heping").post("process-instances", json={"process_key": "three_steps",
                                                                   "business_key": "case:1"})
    assert response.status_code == 422
    assert "business_key" in response.get_json()["error"]["fields"]

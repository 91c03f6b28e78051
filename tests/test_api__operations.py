"""Approval operations through the API: 委派 that comes back, 拿回, 撤回, 终止, 代理 and 已阅 — each with its history
entry, outbox event, authorisation and per-field errors; races where only one may win."""
import threading

from sqlalchemy import select

from engine.models import OutboxEvent
from tests.scenario import Dibao
from tests.ui_pages import add_user


def events(app, event_type: str) -> list[dict]:
    from web.extensions import db

    with app.app_context():
        return [e.payload for e in db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id))]


def history(case: Dibao, action: str) -> list[dict]:
    return [h for h in case.case()["history"] if h["action"] == action]


def claimed(case: Dibao, element_id: str, user: str) -> dict:
    task = case.open_task(element_id, user)
    assert case.login(user).post(f"tasks/{task['id']}/claim").status_code == 200
    return task


def race(app, calls: dict) -> dict[str, int]:
    """Send the calls ({name: (client, path, body)}) at the same moment from threads → {name: status}."""
    barrier = threading.Barrier(len(calls))
    results: dict[str, int] = {}

    def run(name):
        client, path, body = calls[name]
        test_client = app.test_client()
        barrier.wait()
        results[name] = test_client.post(f"/api/v1/{path}", json=body, headers=client.headers).status_code

    threads = [threading.Thread(target=run, args=(name,)) for name in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def put(client, path, **kwargs):
    return client._call("put", path, **kwargs)


def delete(client, path, **kwargs):
    return client._call("delete", path, **kwargs)


# -- 委派 that comes back --------------------------------------------------------------------------------------
def test_operations__delegated_task_comes_back_to_the_delegator(app, login):
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    case = Dibao(login)
    task = claimed(case, "accept", "jd_heping")
    response = login("jd_heping").post(f"tasks/{task['id']}/delegate", json={"to": "jd_heping2", "reason": "请代审"})
    assert response.status_code == 200 and response.get_json()["delegated_by"] == "jd_heping"
    delegate = login("jd_heping2")
    # The delegate's form is checked like any completion …
    bad = delegate.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "maybe"}})
    assert bad.status_code == 422 and "decision" in bad.get_json()["error"]["fields"]
    # … and a good answer does not finish the step: the task is back with the delegator.
    response = delegate.post(f"tasks/{task['id']}/complete",
                             json={"data": {"decision": "accept", "opinion": "材料齐全，建议受理"}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["returned_to"] == "jd_heping" and body["status"] == "open" and body["assignee"] == "jd_heping"
    assert body["delegated_by"] is None and body["next_tasks"] == []
    assert case.stage_elements() == {"accept"}
    entry = history(case, "task_delegation_returned")[-1]
    assert entry["actor"] == "jd_heping2" and entry["opinion"] == "材料齐全，建议受理"
    assert entry["detail"]["to"] == "jd_heping" and entry["detail"]["data"]["decision"] == "accept"
    assert events(app, "task.delegation_returned")[-1] == {"task_id": task["id"], "from": "jd_heping2",
                                                           "to": "jd_heping"}
    # The delegate no longer holds it; the delegator sees the answer and completes it for real.
    assert delegate.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "accept"}}).status_code == 409
    shown = login("jd_heping").get(f"tasks/{task['id']}").get_json()
    assert shown["delegation_answer"]["by"] == "jd_heping2" and shown["delegation_answer"]["data"]["decision"] == "accept"
    response = login("jd_heping").post(f"tasks/{task['id']}/complete",
                                       json={"data": {"decision": "accept", "opinion": "同意受理"}})
    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert response.get_json()["returned_to"] is None
    assert "relatives_check" in case.stage_elements()


# -- 拿回 --------------------------------------------------------------------------------------------------------
def test_operations__take_back_while_the_next_step_is_unopened(app, login):
    case = Dibao(login)
    clerk = login("jd_heping")
    case.complete("accept", "jd_heping", {"decision": "accept", "opinion": "材料齐全"})
    accept = [t for t in clerk.get(f"tasks?case_id={case.id}&view=mine&status=done").get_json()["items"]
              if t["element_id"] == "accept"][0]
    nxt = case.open_task("relatives_check", "jd_heping")
    assert clerk.get(f"tasks/{accept['id']}").get_json()["can_take_back"] is True
    # Only who completed it may take it back.
    assert login("jd_heping_lead").post(f"tasks/{accept['id']}/take-back").status_code in (404, 409)
    # A reason longer than allowed is refused per field.
    too_long = clerk.post(f"tasks/{accept['id']}/take-back", json={"reason": "长" * 2001})
    assert too_long.status_code == 422 and "reason" in too_long.get_json()["error"]["fields"]
    response = clerk.post(f"tasks/{accept['id']}/take-back", json={"reason": "受理意见写错了"})
    assert response.status_code == 200, response.get_json()
    reopened = response.get_json()
    assert reopened["element_id"] == "accept" and reopened["assignee"] == "jd_heping" and reopened["status"] == "open"
    assert case.stage_elements() == {"accept"}
    entry = history(case, "task_taken_back")[-1]
    assert entry["actor"] == "jd_heping" and entry["opinion"] == "受理意见写错了" and entry["detail"]["to"] == "accept"
    assert events(app, "task.taken_back")[-1]["task_id"] == nxt["id"]
    closed = clerk.get(f"tasks/{nxt['id']}").get_json()
    assert closed["status"] == "cancelled"
    # Done again, the next handler opens it (a comment): no more taking back.
    case.complete("accept", "jd_heping", {"decision": "accept", "opinion": "材料齐全"}, claim=False)
    done = [t for t in clerk.get(f"tasks?case_id={case.id}&view=mine&status=done").get_json()["items"]
            if t["element_id"] == "accept" and t["status"] == "completed"]
    nxt = case.open_task("relatives_check", "jd_heping")
    assert clerk.post(f"tasks/{nxt['id']}/comments", json={"text": "已开始核查"}).status_code == 201
    refused = clerk.post(f"tasks/{max(t['id'] for t in done)}/take-back")
    assert refused.status_code == 409 and "已开始办理" in refused.get_json()["error"]["message"]


def test_operations__take_back_refused_once_the_next_handler_claimed(app, login):
    case = Dibao(login)
    case.accept()
    survey_done = [t for t in login("jd_heping").get(f"tasks?case_id={case.id}&view=mine&status=done")
                   .get_json()["items"] if t["element_id"] == "relatives_check"][0]
    claimed(case, "household_survey", "jd_heping")
    response = login("jd_heping").post(f"tasks/{survey_done['id']}/take-back")
    assert response.status_code == 409


def test_operations__take_back_races_the_claim(app, login):
    """The previous handler takes back while the next handler claims: exactly one of them wins."""
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    for _ in range(3):
        case = Dibao(login)
        case.complete("accept", "jd_heping", {"decision": "accept", "opinion": "材料齐全"})
        accept = [t for t in login("jd_heping").get(f"tasks?case_id={case.id}&view=mine&status=done")
                  .get_json()["items"] if t["element_id"] == "accept"][0]
        nxt = case.open_task("relatives_check", "jd_heping2")
        results = race(app, {f"tasks/{accept['id']}/take-back": (login("jd_heping"), f"tasks/{accept['id']}/take-back", {}),
                             f"tasks/{nxt['id']}/claim": (login("jd_heping2"), f"tasks/{nxt['id']}/claim", {})})
        codes = sorted(results.values())
        assert codes == [200, 409], results
        state = login("admin").get(f"tasks/{nxt['id']}").get_json()
        if results[f"tasks/{accept['id']}/take-back"] == 200:
            assert state["status"] == "cancelled" and case.stage_elements() == {"accept"}
        else:
            assert state["status"] == "open" and state["assignee"] == "jd_heping2"



def test_operations__a_claim_racing_a_completion_never_answers_500(app, login):
    """One clerk claims the open task while a colleague completes it unclaimed: exactly one wins, the other gets
    409. (On PostgreSQL the claim's history row checks its foreign key to the instance, which the completing step
    holds; with a FOR UPDATE lock on the instance that was a deadlock and a 500.)"""
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    for _ in range(4):
        case = Dibao(login)
        task = case.open_task("accept", "jd_heping")
        results = race(app, {"claim": (login("jd_heping2"), f"tasks/{task['id']}/claim", {}),
                             "complete": (login("jd_heping"), f"tasks/{task['id']}/complete",
                                          {"data": {"decision": "accept", "opinion": "材料齐全"}})})
        assert sorted(results.values()) == [200, 409], results
        state = login("admin").get(f"tasks/{task['id']}").get_json()
        if results["complete"] == 200:
            assert state["status"] == "completed" and state["completed_by"] == "jd_heping"
        else:
            assert state["status"] == "open" and state["assignee"] == "jd_heping2"

# -- 撤回 --------------------------------------------------------------------------------------------------------
def test_operations__withdraw_before_the_decision(app, login):
    case = Dibao(login)
    case.accept()
    # Not the applicant's side: the street reviewer may see it but not withdraw it; another street does not see it.
    assert login("jd_heping_lead").post(f"cases/{case.id}/withdraw", json={"reason": "x"}).status_code == 403
    assert login("jd_anding").post(f"cases/{case.id}/withdraw", json={"reason": "x"}).status_code == 404
    missing = login("sq_heping").post(f"cases/{case.id}/withdraw", json={})
    assert missing.status_code == 422 and "reason" in missing.get_json()["error"]["fields"]
    blank = login("sq_heping").post(f"cases/{case.id}/withdraw", json={"reason": "  "})
    assert blank.status_code == 422 and blank.get_json()["error"]["fields"]["reason"] == ["撤回须填写理由"]
    open_before = case.case()["tasks"]
    response = login("sq_heping").post(f"cases/{case.id}/withdraw", json={"reason": "申请人要求撤回"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "withdrawn" and response.get_json()["stage"] == "已撤回"
    body = case.case()
    assert body["tasks"] == []
    for task in open_before:
        assert login("admin").get(f"tasks/{task['id']}").get_json()["status"] == "cancelled"
    actions = [h["action"] for h in body["history"]]
    assert actions[0] == "process_started" and "task_completed" in actions  # nothing lost
    assert history(case, "case_withdrawn")[-1]["opinion"] == "申请人要求撤回"
    assert events(app, "case.withdrawn")[-1]["case_id"] == case.id
    instance = login("admin").get(f"process-instances/{case.instance_id}").get_json()
    assert instance["status"] == "cancelled"
    again = login("sq_heping").post(f"cases/{case.id}/withdraw", json={"reason": "再撤一次"})
    assert again.status_code == 409


def test_operations__no_withdrawal_after_the_decision(app, login):
    case = Dibao(login)
    case.through_street()
    from tests.scenario import advance

    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve()  # decided; payment setup still open
    response = login("jd_heping").post(f"cases/{case.id}/withdraw", json={"reason": "申请人要求撤回"})
    assert response.status_code == 409 and "审批" in response.get_json()["error"]["message"]
    assert case.case()["status"] == "in_progress"


# -- 终止 --------------------------------------------------------------------------------------------------------
def test_operations__terminate_by_admin_or_district_approver(app, login):
    case = Dibao(login)
    case.accept()
    path = f"process-instances/{case.instance_id}/terminate"
    assert login("jd_heping").post(path, json={"reason": "x"}).status_code == 403
    assert login("jd_anding").post(path, json={"reason": "x"}).status_code == 404
    missing = login("qu_approver").post(path, json={"reason": ""})
    assert missing.status_code == 422 and "reason" in missing.get_json()["error"]["fields"]
    response = login("qu_approver").post(path, json={"reason": "重复申请，终止办理"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "cancelled" and response.get_json()["tasks"] == []
    body = case.case()
    assert body["status"] == "closed" and body["stage"] == "已终止"
    entry = history(case, "process_terminated")[-1]
    assert entry["actor"] == "qu_approver" and entry["opinion"] == "重复申请，终止办理"
    payload = events(app, "process.terminated")[-1]
    assert payload["case_id"] == case.id and payload["reason"] == "重复申请，终止办理"
    assert login("admin").post(path, json={"reason": "again"}).status_code == 409


def test_operations__terminate_races_the_completion(app, login):
    """A termination and a completion of the open task at once: the instance lock lets one through first."""
    case = Dibao(login)
    task = claimed(case, "accept", "jd_heping")
    results = race(app, {
        "terminate": (login("admin"), f"process-instances/{case.instance_id}/terminate", {"reason": "终止"}),
        "complete": (login("jd_heping"), f"tasks/{task['id']}/complete",
                     {"data": {"decision": "accept", "opinion": "齐全"}})})
    # Whichever came second saw the first one's result: terminated with nothing left open, or (the completion
    # first, where the database refuses the stale second writer instead of queueing it) still in progress.
    assert 200 in results.values(), results
    body = case.case()
    if results["terminate"] == 200:
        assert body["status"] == "closed" and body["tasks"] == []
        assert results["complete"] in (200, 409)
    else:
        assert results == {"complete": 200, "terminate": 409} and body["status"] == "in_progress"
        assert [t["element_id"] for t in body["tasks"]] == ["relatives_check"]


# -- 代理 --------------------------------------------------------------------------------------------------------
def test_operations__substitute_rules_per_field(app, login):
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    clerk = login("jd_heping")
    cases = [({"user": "jd_heping", "from": "2026-03-02", "to": "2026-03-06"}, "user", "不能指定自己为代理人"),
             ({"user": "jd_anding", "from": "2026-03-02", "to": "2026-03-06"}, "user", "代理人须与您同一辖区（和单位）"),
             ({"user": "jd_heping_lead", "from": "2026-03-02", "to": "2026-03-06"}, "user", "代理人须与您同一岗位"),
             ({"user": "nobody", "from": "2026-03-02", "to": "2026-03-06"}, "user", "用户不存在或已停用"),
             ({"user": "jd_heping2", "from": "3月2日", "to": "2026-03-06"}, "from", "日期格式应为 YYYY-MM-DD"),
             ({"user": "jd_heping2", "from": "2026-03-06", "to": "2026-03-02"}, "to", "结束日期不能早于开始日期"),
             ({"user": "jd_heping2", "from": "2026-02-02", "to": "2026-02-06"}, "to", "结束日期已过")]
    for body, field, message in cases:
        response = put(clerk, "me/substitute", json=body)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["fields"][field] == [message], body
    assert put(clerk, "me/substitute", json={"user": "jd_heping2", "from": "2026-03-02",
                                             "to": "2026-03-06"}).status_code == 201
    overlap = put(clerk, "me/substitute", json={"user": "jd_heping2", "from": "2026-03-05", "to": "2026-03-09"})
    assert overlap.status_code == 422 and "重叠" in overlap.get_json()["error"]["fields"]["from"][0]
    listed = clerk.get("me/substitute").get_json()
    assert [(s["substitute"], s["from"], s["to"]) for s in listed["substitutes"]] == [
        ("jd_heping2", "2026-03-02", "2026-03-06")]
    assert login("jd_heping2").get("me/substitute").get_json()["standing_in_for"][0]["user"] == "jd_heping"
    assert events(app, "user.substitute_set")[-1]["substitute"] == "jd_heping2"
    assert delete(clerk, "me/substitute").get_json() == {"cancelled": 1}
    assert clerk.get("me/substitute").get_json()["substitutes"] == []
    assert events(app, "user.substitute_cancelled")[-1]["user"] == "jd_heping"


def test_operations__substitute_works_the_absent_users_tasks(app, login):
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    case = Dibao(login)
    task = claimed(case, "accept", "jd_heping")  # on jd_heping's desk by name
    substitute = login("jd_heping2")
    # Before the period: not the substitute's.
    assert substitute.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "accept"}}).status_code == 409
    assert put(login("jd_heping"), "me/substitute", json={"user": "jd_heping2", "from": "2026-03-02",
                                                          "to": "2026-03-13"}).status_code == 201
    mine = substitute.get("tasks?view=mine").get_json()["items"]
    assert task["id"] in [t["id"] for t in mine]  # routed to the substitute …
    assert task["id"] in [t["id"] for t in login("jd_heping").get("tasks?view=mine").get_json()["items"]]  # … both
    response = substitute.post(f"tasks/{task['id']}/complete",
                               json={"data": {"decision": "accept", "opinion": "代为受理"}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["completed_by"] == "jd_heping2"
    entry = [h for h in history(case, "task_completed") if h["element_id"] == "accept"][-1]
    assert entry["actor"] == "jd_heping2" and entry["detail"]["on_behalf_of"] == "jd_heping"
    assert events(app, "task.completed")[-1]["on_behalf_of"] == "jd_heping"
    # Someone who is not the substitute still cannot touch another's task.
    nxt = claimed(case, "relatives_check", "jd_heping")
    assert login("jd_anding").post(f"tasks/{nxt['id']}/complete", json={"data": {}}).status_code == 404


# -- 已阅 --------------------------------------------------------------------------------------------------------
def test_operations__mark_copies_read(app, login):
    case = Dibao(login)
    task = claimed(case, "accept", "jd_heping")
    assert login("jd_heping").post(f"tasks/{task['id']}/copies", json={"to": ["jd_heping_lead"]}).status_code == 201
    assert login("jd_anding").post(f"cases/{case.id}/read").status_code == 404
    lead = login("jd_heping_lead")
    assert lead.post(f"cases/{case.id}/read").get_json() == {"marked": 1}
    assert lead.post(f"cases/{case.id}/read").get_json() == {"marked": 0}  # once
    entries = history(case, "copy_read")
    assert len(entries) == 1 and entries[0]["actor"] == "jd_heping_lead"
    assert events(app, "case.copy_read")[-1] == {"case_id": case.id, "reader": "jd_heping_lead", "copies": 1}

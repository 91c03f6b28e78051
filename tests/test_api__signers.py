"""会签 / 或签 / 依次签批 named by the diagram, 加签 before and after the holder, 减签 — through the API, each with its
history entry, outbox event, authorisation and per-field errors; and two signers of 会签 signing at once."""
import threading

import pytest
from sqlalchemy import select

from engine.models import OutboxEvent
from tests.bpmn_samples import countersign_task, form_task

XML = {"Content-Type": "application/xml"}


def deploy(login, xml: str) -> None:
    response = login("designer").post("process-definitions", data=xml, headers=XML)
    assert response.status_code in (200, 201), response.get_json()


def start(login, key: str, data: dict | None = None, user: str = "jd_heping") -> int:
    response = login(user).post("process-instances", json={"process_key": key, "data": data or {}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def open_tasks(login, instance_id: int) -> dict[str, dict]:
    items = login("admin").get(f"tasks?process_instance_id={instance_id}").get_json()["items"]
    return {t["element_id"]: t for t in items}


def task(login, task_id: int, user: str = "admin") -> dict:
    return login(user).get(f"tasks/{task_id}").get_json()


def sign(login, user: str, task_id: int, decision: str, opinion: str | None = None):
    return login(user).post(f"tasks/{task_id}/sign", json={"decision": decision, "opinion": opinion})


def events(app, event_type: str) -> list[dict]:
    from web.extensions import db

    with app.app_context():
        return [e.payload for e in db.session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id))]


def audit(app, instance_id: int, action: str) -> list:
    from engine.models import AuditEntry
    from web.extensions import db

    with app.app_context():
        return [(e.actor, e.opinion, e.detail) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.instance_id == instance_id, AuditEntry.action == action)
            .order_by(AuditEntry.id))]


def countersign(login, mode: str, signers: str = "jd_heping_lead,qu_inspector,qu_approver", data=None):
    deploy(login, countersign_task(f"sign_{mode}", mode, signers))
    instance_id = start(login, f"sign_{mode}", data)
    return instance_id, open_tasks(login, instance_id)["countersign"]["id"]


# -- 会签 ---------------------------------------------------------------------------------------------------------
def test_signers__countersign_all_agree_completes_once(app, login):
    instance_id, task_id = countersign(login, "all")
    shown = task(login, task_id, "qu_inspector")  # a signer sees it, though not in their role's inbox
    assert [s["user"] for s in shown["signers"]] == ["jd_heping_lead", "qu_inspector", "qu_approver"]
    assert shown["my_sign_turn"] is True and {s["status"] for s in shown["signers"]} == {"pending"}
    todo = login("qu_approver").get("tasks?view=todo").get_json()["items"]
    assert task_id in [t["id"] for t in todo]
    # The holder's group cannot complete a 会签 task itself.
    refused = login("jd_heping").post(f"tasks/{task_id}/complete", json={"data": {"decision": "approve"}})
    assert refused.status_code == 409 and "会签" in refused.get_json()["error"]["message"]
    assert sign(login, "jd_heping_lead", task_id, "agree", "同意").status_code == 200
    assert sign(login, "jd_heping_lead", task_id, "agree").status_code == 409  # counted once
    assert sign(login, "qu_inspector", task_id, "agree").status_code == 200
    assert task(login, task_id)["status"] == "open"
    last = sign(login, "qu_approver", task_id, "agree", "同意通过")
    assert last.status_code == 200, last.get_json()
    body = last.get_json()
    assert body["status"] == "completed" and body["completed_by"] == "qu_approver"
    done = task(login, task_id)
    assert done["data"]["sign_result"] == "agreed"
    assert [(o["user"], o["decision"]) for o in done["data"]["sign_opinions"]] == [
        ("jd_heping_lead", "agree"), ("qu_inspector", "agree"), ("qu_approver", "agree")]
    assert set(open_tasks(login, instance_id)) == {"passed"}  # the gateway branched on sign_result
    assert len(audit(app, instance_id, "task_signed")) == 3
    assert len(events(app, "task.signed")) == 3
    assert [e["task_id"] for e in events(app, "task.completed")] == [task_id]
    assert events(app, "task.sign_requested")[0] == {"task_id": task_id, "mode": "all",
                                                     "signers": ["jd_heping_lead", "qu_inspector", "qu_approver"]}
    # Nothing left on the signers' desks.
    assert task_id not in [t["id"] for t in login("qu_inspector").get("tasks?view=todo").get_json()["items"]]


def test_signers__countersign_one_rejection_decides_at_once(app, login):
    instance_id, task_id = countersign(login, "all")
    assert sign(login, "jd_heping_lead", task_id, "agree").status_code == 200
    no_opinion = sign(login, "qu_inspector", task_id, "reject")
    assert no_opinion.status_code == 422 and "opinion" in no_opinion.get_json()["error"]["fields"]
    bad = sign(login, "qu_inspector", task_id, "maybe")
    assert bad.status_code == 422 and "decision" in bad.get_json()["error"]["fields"]
    response = sign(login, "qu_inspector", task_id, "reject", "收入核对不一致")
    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    statuses = {s["user"]: s["status"] for s in response.get_json()["signers"]}
    assert statuses == {"jd_heping_lead": "agreed", "qu_inspector": "rejected", "qu_approver": "skipped"}
    assert task(login, task_id)["data"]["sign_result"] == "rejected"
    assert set(open_tasks(login, instance_id)) == {"failed"}
    assert sign(login, "qu_approver", task_id, "agree").status_code == 409
    assert audit(app, instance_id, "task_signed")[-1][:2] == ("qu_inspector", "收入核对不一致")


def test_signers__or_sign_first_decision_decides(app, login):
    instance_id, task_id = countersign(login, "any", data=None)
    response = sign(login, "qu_approver", task_id, "agree", "同意")
    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert task(login, task_id)["data"]["sign_result"] == "agreed"
    assert set(open_tasks(login, instance_id)) == {"passed"}
    assert sign(login, "qu_inspector", task_id, "reject", "晚了").status_code == 409


def test_signers__sequence_in_order_and_signers_from_task_data(app, login):
    instance_id, task_id = countersign(login, "sequence", "${reviewers}",
                                       data={"reviewers": ["qu_inspector", "jd_heping_lead", "nobody_here"]})
    shown = task(login, task_id)
    assert [s["user"] for s in shown["signers"]] == ["qu_inspector", "jd_heping_lead"]  # unknown users left out
    out_of_turn = sign(login, "jd_heping_lead", task_id, "agree")
    assert out_of_turn.status_code == 409 and "轮到" in out_of_turn.get_json()["error"]["message"]
    assert task_id not in [t["id"] for t in login("jd_heping_lead").get("tasks?view=todo").get_json()["items"]]
    assert sign(login, "qu_inspector", task_id, "agree").status_code == 200
    assert task_id in [t["id"] for t in login("jd_heping_lead").get("tasks?view=todo").get_json()["items"]]
    response = sign(login, "jd_heping_lead", task_id, "agree")
    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert set(open_tasks(login, instance_id)) == {"passed"}


def test_signers__a_non_signer_is_refused(app, login):
    _instance_id, task_id = countersign(login, "all")
    # Sees the task (its street's clerk) but is not a signer: 403; another street's clerk does not see it: 404.
    assert sign(login, "jd_heping", task_id, "agree").status_code == 403
    assert sign(login, "jd_anding", task_id, "agree").status_code == 404
    assert login("jd_anding").get(f"tasks/{task_id}").status_code == 404


def test_signers__remove_a_countersigner_who_has_not_acted(app, login):
    instance_id, task_id = countersign(login, "all")
    holder = login("jd_heping")
    assert sign(login, "jd_heping_lead", task_id, "agree").status_code == 200
    acted = holder.post(f"tasks/{task_id}/remove-signer", json={"user": "jd_heping_lead"})
    assert acted.status_code == 409
    stranger = holder.post(f"tasks/{task_id}/remove-signer", json={"user": "cz_payer"})
    assert stranger.status_code == 422 and "user" in stranger.get_json()["error"]["fields"]
    # A signer is not the holder: 减签 is the holder's.
    assert login("qu_inspector").post(f"tasks/{task_id}/remove-signer", json={"user": "qu_approver"}).status_code \
        in (403, 404)
    assert holder.post(f"tasks/{task_id}/remove-signer", json={"user": "qu_approver"}).status_code == 200
    assert sign(login, "qu_approver", task_id, "agree").status_code == 409
    # Removing the last pending one leaves only agreements: the 会签 is decided.
    response = holder.post(f"tasks/{task_id}/remove-signer", json={"user": "qu_inspector"})
    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert task(login, task_id)["data"]["sign_result"] == "agreed"
    assert [a[2]["to"] for a in audit(app, instance_id, "task_signer_removed")] == ["qu_approver", "qu_inspector"]
    assert [e["user"] for e in events(app, "task.signer_removed")] == ["qu_approver", "qu_inspector"]


# -- 加签 -----------------------------------------------------------------------------------------------------------
def plain_task(login) -> tuple[int, int]:
    deploy(login, form_task("plain_sign", "review", "审核"))
    instance_id = start(login, "plain_sign")
    task_id = open_tasks(login, instance_id)["visit"]["id"]
    assert login("jd_heping").post(f"tasks/{task_id}/claim").status_code == 200
    return instance_id, task_id


def test_signers__add_signers_checks_every_field(app, login):
    _instance_id, task_id = plain_task(login)
    holder = login("jd_heping")
    bad = holder.post(f"tasks/{task_id}/add-signers", json={"users": ["jd_heping", "ghost", "qu_inspector",
                                                                      "qu_inspector"], "where": "middle"})
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert "where" in fields
    text = " ".join(fields["users"])
    assert "自己" in text and "ghost" in text and "重复" in text
    many = holder.post(f"tasks/{task_id}/add-signers", json={"users": [f"u{i}" for i in range(11)], "where": "before"})
    assert many.status_code == 422 and "10" in " ".join(many.get_json()["error"]["fields"]["users"])
    assert holder.post(f"tasks/{task_id}/add-signers", json={"users": [], "where": "before"}).status_code == 422
    # Only who may work the task adds signers.
    other = login("jd_heping_lead").post(f"tasks/{task_id}/add-signers",
                                         json={"users": ["qu_inspector"], "where": "before"})
    assert other.status_code in (403, 409)


def test_signers__before_signers_sign_first_and_a_rejection_returns_to_the_holder(app, login):
    instance_id, task_id = plain_task(login)
    holder = login("jd_heping")
    added = holder.post(f"tasks/{task_id}/add-signers", json={"users": ["jd_heping_lead", "qu_inspector"],
                                                               "where": "before"})
    assert added.status_code == 200, added.get_json()
    assert [s["status"] for s in added.get_json()["signers"]] == ["pending", "pending"]
    assert events(app, "task.signers_added")[-1] == {"task_id": task_id, "users": ["jd_heping_lead", "qu_inspector"],
                                                     "where": "before", "by": "jd_heping"}
    waiting = holder.post(f"tasks/{task_id}/complete", json={"data": {"decision": "approve"}})
    assert waiting.status_code == 409 and "加签人" in waiting.get_json()["error"]["message"]
    assert sign(login, "jd_heping_lead", task_id, "agree", "可以").status_code == 200
    rejected = sign(login, "qu_inspector", task_id, "reject", "材料不全")
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "open"
    assert audit(app, instance_id, "task_sign_returned")[-1][:2] == ("qu_inspector", "材料不全")
    assert events(app, "task.sign_returned")[-1] == {"task_id": task_id, "from": "qu_inspector", "phase": "before"}
    # Back with the holder, who decides, with every opinion in the step's data.
    done = holder.post(f"tasks/{task_id}/complete", json={"data": {"decision": "reject", "opinion": "按加签意见退回"}})
    assert done.status_code == 200, done.get_json()
    data = task(login, task_id)["data"]
    assert [(o["user"], o["decision"]) for o in data["sign_opinions"]] == [("jd_heping_lead", "agree"),
                                                                          ("qu_inspector", "reject")]


def test_signers__after_signers_sign_the_holders_answer(app, login):
    instance_id, task_id = plain_task(login)
    holder = login("jd_heping")
    assert holder.post(f"tasks/{task_id}/add-signers", json={"users": ["jd_heping_lead", "qu_inspector"],
                                                              "where": "after"}).status_code == 200
    # Not asked yet: the after-signers wait for the holder's answer.
    assert sign(login, "jd_heping_lead", task_id, "agree").status_code == 409
    answered = holder.post(f"tasks/{task_id}/complete", json={"data": {"decision": "approve", "opinion": "同意"}})
    assert answered.status_code == 200 and answered.get_json()["awaiting_signers"] is True
    assert answered.get_json()["status"] == "open"
    assert holder.post(f"tasks/{task_id}/complete", json={"data": {"decision": "approve"}}).status_code == 409
    # A rejection returns it to the holder: the answer is void, the other after-signer skipped.
    assert sign(login, "jd_heping_lead", task_id, "reject", "意见不充分").status_code == 200
    assert {s["user"]: s["status"] for s in task(login, task_id)["signers"]} == {"jd_heping_lead": "rejected",
                                                                                 "qu_inspector": "skipped"}
    # Ask again (the same rows are re-opened), answer again; all agree → the step completes with the holder's data.
    assert holder.post(f"tasks/{task_id}/add-signers", json={"users": ["jd_heping_lead", "qu_inspector"],
                                                              "where": "after"}).status_code == 200
    assert holder.post(f"tasks/{task_id}/complete",
                       json={"data": {"decision": "approve", "opinion": "补充说明后同意"}}).status_code == 200
    assert sign(login, "jd_heping_lead", task_id, "agree").status_code == 200
    assert task(login, task_id)["status"] == "open"
    last = sign(login, "qu_inspector", task_id, "agree", "同意")
    assert last.status_code == 200 and last.get_json()["status"] == "completed"
    done = task(login, task_id)
    assert done["completed_by"] == "jd_heping" and done["data"]["decision"] == "approve"
    assert done["data"]["opinion"] == "补充说明后同意"
    assert [o["user"] for o in done["data"]["sign_opinions"]][-2:] == ["jd_heping_lead", "qu_inspector"]
    assert open_tasks(login, instance_id) == {}
    assert len(audit(app, instance_id, "task_sign_answer_recorded")) == 2


def test_signers__remove_an_after_signer_not_yet_acted(app, login):
    _instance_id, task_id = plain_task(login)
    holder = login("jd_heping")
    holder.post(f"tasks/{task_id}/add-signers", json={"users": ["jd_heping_lead", "qu_inspector"], "where": "after"})
    holder.post(f"tasks/{task_id}/complete", json={"data": {"decision": "approve"}})
    assert sign(login, "jd_heping_lead", task_id, "agree").status_code == 200
    assert holder.post(f"tasks/{task_id}/remove-signer", json={"user": "jd_heping_lead"}).status_code == 409
    response = holder.post(f"tasks/{task_id}/remove-signer", json={"user": "qu_inspector"})
    assert response.status_code == 200 and response.get_json()["status"] == "completed"


def sign_at_once(app, task_id: int, clients: dict) -> dict[str, int]:
    """Every signer agrees at the same moment, each from a thread → {user: status}."""
    barrier = threading.Barrier(len(clients))
    results: dict[str, int] = {}

    def run(user):
        test_client = app.test_client()
        barrier.wait()
        results[user] = test_client.post(f"/api/v1/tasks/{task_id}/sign", json={"decision": "agree"},
                                         headers=clients[user].headers).status_code

    threads = [threading.Thread(target=run, args=(u,)) for u in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# -- races --------------------------------------------------------------------------------------------------------
def test_signers__two_countersigners_at_once_both_count_and_complete_once(app, login):
    """Two signers of 会签 sign at the same moment: both counted once, the BPMN task completes exactly once."""
    for round_no in range(3):
        key = f"sign_race{round_no}"
        deploy(login, countersign_task(key, "all", "jd_heping_lead,qu_inspector"))
        instance_id = start(login, key)
        task_id = open_tasks(login, instance_id)["countersign"]["id"]
        results = sign_at_once(app, task_id, {u: login(u) for u in ("jd_heping_lead", "qu_inspector")})
        # The second waits for the first's step (instance and task row locks), then counts on top of it.
        assert results == {"jd_heping_lead": 200, "qu_inspector": 200}, results
        done = task(login, task_id)
        assert done["status"] == "completed" and done["data"]["sign_result"] == "agreed"
        assert sorted(o["user"] for o in done["data"]["sign_opinions"]) == ["jd_heping_lead", "qu_inspector"]
        assert [e["task_id"] for e in events(app, "task.completed")].count(task_id) == 1
        assert len(audit(app, instance_id, "task_signed")) == 2
        assert set(open_tasks(login, instance_id)) == {"passed"}


@pytest.mark.parametrize("bad", [{"signMode": "most"}, {"signMode": "all"}, {"signers": "a,b"}])
def test_signers__deploy_checks_the_properties(login, bad):
    mode = bad.get("signMode", "")
    xml = countersign_task("sign_bad", mode or "all", bad.get("signers", ""))
    if not mode:
        xml = xml.replace('<spiffworkflow:property name="signMode" value="all" />', "")
    response = login("designer").post("process-definitions", data=xml, headers=XML)
    assert response.status_code == 422, response.get_json()
    assert "sign" in str(response.get_json())


def test_signers__a_completion_planned_without_signers_refuses_when_one_was_added_meanwhile(app, login, engine):
    """The holder's completion asks nothing about signers when the task has none (`has_signers`); a 加签 committed
    between that plan and the step must still stop it — the completing UPDATE checks the flag under the lock."""
    from engine.errors import Conflict
    from web.extensions import db
    from workflows.models import User
    from workflows.tasks.service import TaskService

    instance_id, task_id = plain_task(login)
    with app.app_context():
        service = TaskService(db.session, engine, db.session.scalar(select(User).where(User.username == "jd_heping")))
        planned = service.workable(task_id)  # what the completion read before the lock: no signers
        assert planned.has_signers is False
        db.session.expunge(planned)  # keeps what was read: the request below shares this app context's session
        # Meanwhile a colleague's 加签 commits (another request, another session).
        added = login("jd_heping").post(f"tasks/{task_id}/add-signers", json={"users": ["jd_heping_lead"],
                                                                                "where": "before"})
        assert added.status_code == 200, added.get_json()
        service.workable = lambda _id: planned  # the stale read, as if the add landed right after it
        with pytest.raises(Conflict, match="刚刚发生变化"):
            service.complete(task_id, {"decision": "approve"})
        db.session.rollback()
    assert task(login, task_id)["status"] == "open"
    assert login("jd_heping").post(f"tasks/{task_id}/complete",
                                   json={"data": {"decision": "approve"}}).status_code == 409  # waits for the signer


def test_signers__the_draft_of_a_task_the_signers_completed_is_dropped(app, login):
    """A draft lives as long as its task is open — also when the last signer's agreement closes the task and the
    flow ends with it (the drafts' DELETE runs at the end of the step and must see the task closed)."""
    from datetime import UTC, datetime

    from web.extensions import db
    from workflows.models import TaskDraft

    key = "sign_then_end"
    xml = (countersign_task(key, "all", "jd_heping_lead")
           .replace('<bpmn:sequenceFlow id="f2" sourceRef="countersign" targetRef="decided" />',
                    '<bpmn:sequenceFlow id="f2" sourceRef="countersign" targetRef="end" />'))
    xml = xml[:xml.index('<bpmn:exclusiveGateway')] + '<bpmn:endEvent id="end" />' + \
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="countersign" />' + \
        '<bpmn:sequenceFlow id="f2" sourceRef="countersign" targetRef="end" /></bpmn:process></bpmn:definitions>'
    deploy(login, xml)
    instance_id = start(login, key)
    task_id = open_tasks(login, instance_id)["countersign"]["id"]
    with app.app_context():
        db.session.add(TaskDraft(task_id=task_id, data={"opinion": "草稿"}, saved_by="jd_heping",
                                 saved_at=datetime.now(UTC)))
        db.session.commit()
        db.session.remove()
    signed = sign(login, "jd_heping_lead", task_id, "agree", "同意")
    assert signed.status_code == 200 and signed.get_json()["status"] == "completed", signed.get_json()
    assert task(login, task_id)["status"] == "completed"
    with app.app_context():
        assert db.session.scalars(select(TaskDraft.task_id).where(TaskDraft.task_id == task_id)).all() == []
        db.session.remove()

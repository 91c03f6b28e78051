"""The task service: the page and the API complete through the same `TaskService.complete`; the API takes the
household table too, in the same engine step as the completion, so a failed completion leaves no edit behind."""
import pytest
from sqlalchemy import select

from engine.errors import Conflict
from engine.models import AuditEntry, HumanTask, TaskStatus
from tests.scenario import Dibao, id_number
from tests.ui_pages import PageClient
from workflows.models import Case
from workflows.tasks import TaskService

SURVEY = {"investigators": ["张伟", "王丽"], "income_items": [{"type": "wage", "amount": 800}], "findings": "属实",
          "visited_on": "2026-03-03"}


def _survey(login):
    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    assert login("jd_heping").post(f"tasks/{task['id']}/claim").status_code == 200
    return case, task


def _stored_members(app, case_id):
    with app.app_context():
        from web.extensions import db

        return db.session.get(Case, case_id).household["members"]


def _newborn():
    return {"name": "张小小", "relation": "子女", "id_number": id_number("20250101", serial=901),
            "work_capacity": "none"}


def test_task_service__api_shows_and_takes_the_household(app, login):
    case, task = _survey(login)
    clerk = login("jd_heping")
    shown = clerk.get(f"tasks/{task['id']}").get_json()
    rows = shown["household"]["members"]
    original = _stored_members(app, case.id)
    assert [r["key"] for r in rows] == ["0", "1"]
    assert all("*" in r["id_number"] for r in rows)  # masked: the full number never goes out
    assert original[0]["id_number"] not in str(shown)
    rows[1]["relation"] = "孙子女"
    response = clerk.post(f"tasks/{task['id']}/complete", json={"data": SURVEY, "members": rows + [_newborn()]})
    assert response.status_code == 200, response.get_json()
    stored = _stored_members(app, case.id)
    assert len(stored) == 3 and stored[1]["relation"] == "孙子女"
    assert stored[0]["id_number"] == original[0]["id_number"]  # the masked number stood for the stored one
    assert stored[2]["birth_date"] == "2025-01-01"  # read from the ID number
    body = case.case()
    assert body["household_size"] == 3
    assert [h["action"] for h in body["history"]].count("household_updated") == 1


def test_task_service__api_member_errors_per_row_and_field(app, login):
    case, task = _survey(login)
    clerk = login("jd_heping")
    bad = dict(_newborn(), id_number="110105202501010000")
    response = clerk.post(f"tasks/{task['id']}/complete",
                          json={"data": SURVEY, "members": [{"key": "0"}, bad, "not a row"]})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "members-1-id_number" in fields and fields["members-2"] == ["应为 JSON 对象"]
    assert clerk.get(f"tasks/{task['id']}").get_json()["status"] == "open"
    # A step without the household table refuses one.
    case.survey()
    case.economic_check()
    appraisal = case.open_task("appraisal", "sq_heping")
    response = login("sq_heping").post(f"tasks/{appraisal['id']}/complete", json={
        "data": {"representatives_present": 9, "representatives_total": 12, "result": "pass"}, "members": []})
    assert response.status_code == 422
    assert "members" in response.get_json()["error"]["fields"]


def test_task_service__a_failed_completion_rolls_the_household_edit_back(app, login, engine):
    case, task = _survey(login)
    clerk = login("jd_heping")
    rows = clerk.get(f"tasks/{task['id']}").get_json()["household"]["members"]
    before = _stored_members(app, case.id)

    class FailingListener:
        def after_step(self, ctx, workflow):
            if ctx.action == "complete":
                raise Conflict("模拟：提交时发生冲突")

    engine.listeners.append(FailingListener())
    try:
        response = clerk.post(f"tasks/{task['id']}/complete", json={"data": SURVEY, "members": rows + [_newborn()]})
    finally:
        engine.listeners.pop()
    assert response.status_code == 409
    assert _stored_members(app, case.id) == before  # the edit went with the failed step
    with app.app_context():
        from web.extensions import db

        row = db.session.get(HumanTask, task["id"])
        assert row.status == TaskStatus.OPEN
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.instance_id == row.instance_id))
        assert "household_updated" not in list(actions)
    # Once the conflict is gone the same submission goes through.
    response = clerk.post(f"tasks/{task['id']}/complete", json={"data": SURVEY, "members": rows + [_newborn()]})
    assert response.status_code == 200, response.get_json()
    assert len(_stored_members(app, case.id)) == 3


def test_task_service__page_and_api_complete_through_the_same_service(app, login, monkeypatch):
    calls = []
    original = TaskService.complete

    def spy(self, task_id, data, *, members=None):
        calls.append((task_id, data.get("income_items"), members is not None))
        return original(self, task_id, data, members=members)

    monkeypatch.setattr(TaskService, "complete", spy)
    page_case, page_task = _survey(login)
    body = page_case.case()
    form = {"action": "complete", "investigators": ["张伟", "王丽"], "income_items-0-type": "wage",
            "income_items-0-amount": "812.50", "findings": "属实", "visited_on": "2026-03-03"}
    for i, m in enumerate(body["household"]["members"]):
        form.update({f"members-{i}-key": str(i), f"members-{i}-name": m["name"],
                     f"members-{i}-relation": m["relation"], f"members-{i}-id_number": m["id_number"], f"members-{i}-birth_date": m["birth_date"],
                     f"members-{i}-work_capacity": m["work_capacity"]})
    assert PageClient(app, "jd_heping").post(f"/tasks/{page_task['id']}", form).status_code == 302
    api_case, api_task = _survey(login)
    response = login("jd_heping").post(f"tasks/{api_task['id']}/complete",
                                       json={"data": dict(SURVEY, income_items=[{"type": "wage", "amount": 812.5}])})
    assert response.status_code == 200
    surveys = {c[0]: c for c in calls if c[0] in (page_task["id"], api_task["id"])}
    assert list(surveys) == [page_task["id"], api_task["id"]]
    page_call, api_call = surveys[page_task["id"]], surveys[api_task["id"]]
    # The same field, parsed by each, checked by one.
    assert [float(r["amount"]) for r in page_call[1]] == [float(r["amount"]) for r in api_call[1]] == [812.5]
    assert page_call[2] and not api_call[2]  # the page always sends its table; the API only when it edits


def test_task_service__done_is_one_rule(app, login):
    """已办 counts a task I returned on the page and in the API alike; a task the flow withdrew is nobody's."""
    case, task = _survey(login)
    case.survey()
    case.economic_check()
    case.appraise()
    review = case.open_task("street_review", "jd_heping_lead")
    lead = login("jd_heping_lead")
    lead.post(f"tasks/{review['id']}/claim")
    assert lead.post(f"tasks/{review['id']}/return", json={"to": "household_survey", "reason": "收入需复核"}
                     ).status_code == 200
    done = lead.get("tasks?view=mine&status=done").get_json()["items"]
    assert [t["id"] for t in done] == [review["id"]] and done[0]["status"] == "cancelled"
    html = PageClient(app, "jd_heping_lead").text("/inbox?tab=done")
    assert f"/tasks/{review['id']}" in html and "已退回" in html
    # The parallel branch closed by the return was withdrawn by the flow: on no one's 已办.
    everyone = login("admin").get(f"tasks?view=all&status=done&case_id={case.id}").get_json()["items"]
    assert all(t["completed_by"] for t in everyone)


@pytest.mark.parametrize("view", ["mine", "group", "todo", "all"])
def test_task_service__inbox_views_answer(login, view):
    Dibao(login)
    response = login("jd_heping").get(f"tasks?view={view}")
    assert response.status_code == 200
    items = response.get_json()["items"]
    if view in ("group", "todo", "all"):
        assert [t["element_id"] for t in items] == ["accept"]
    else:
        assert items == []

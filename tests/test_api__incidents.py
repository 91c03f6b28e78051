"""The incidents API and pages: list, retry (409 with the reason while it still fails), the instance shows it,
the dashboard counts it."""
from __future__ import annotations

from datetime import timedelta

from engine import clock
from tests.test_engine__incidents import Switch, start_instances
from tests.ui_pages import PageClient
from web.extensions import db


def _park(app, login, monkeypatch, data=None) -> tuple[int, Switch]:
    [instance_id] = start_instances(login, data or {"divisor": 5})
    engine = app.extensions["jiuzhu.engine"]
    switch = Switch(instance_id)
    monkeypatch.setattr(engine, "listeners", [*engine.listeners, switch])
    clock.active().advance(timedelta(hours=2))
    with app.app_context():  # the worker's sweep
        engine.sweep_timers()
        db.session.remove()
    return instance_id, switch


def test_api__incident_listed_shown_and_retried(app, login, monkeypatch):
    instance_id, switch = _park(app, login, monkeypatch)
    admin = login("admin")
    body = admin.get("admin/incidents").get_json()
    [item] = body["items"]
    assert item["instance_id"] == instance_id and item["process_key"] == "incident_demo"
    assert item["element_id"] == "wait_hour" and "下游系统不可用" in item["error"]
    assert item["kind"] == "timer" and item["attempts"] == 1 and item["since"] and item["case_id"] is None
    assert admin.get("admin/incidents?status=resolved").get_json()["items"] == []
    assert admin.get("admin/incidents?status=other").status_code == 422

    shown = admin.get(f"process-instances/{instance_id}").get_json()
    assert shown["status"] == "incident" and shown["incident"]["id"] == item["id"]

    # Still failing: 409, the reason, the incident still open with one more attempt.
    failed = admin.post(f"admin/incidents/{item['id']}/retry")
    assert failed.status_code == 409, failed.get_json()
    error = failed.get_json()["error"]
    assert error["code"] == "incident_still_failing" and "下游系统不可用" in error["message"]
    assert error["incident"]["attempts"] == 2 and error["incident"]["resolved_at"] is None

    switch.on = False
    done = admin.post(f"admin/incidents/{item['id']}/retry")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["resolved_by"] == "admin" and done.get_json()["attempts"] == 3
    shown = admin.get(f"process-instances/{instance_id}").get_json()
    assert shown["status"] == "running" and shown["incident"] is None
    assert [t["element_id"] for t in shown["tasks"]] == ["after"]
    assert admin.post(f"admin/incidents/{item['id']}/retry").status_code == 409  # already resolved
    assert [i["id"] for i in admin.get("admin/incidents?status=resolved").get_json()["items"]] == [item["id"]]
    assert admin.post("admin/incidents/999999/retry").status_code == 404


def test_api__incidents_are_for_admins(app, login):
    assert login("supervisor").get("admin/incidents").status_code == 403
    assert login("jd_heping").post("admin/incidents/1/retry").status_code == 403


def test_ui__incident_page_and_dashboard_count(app, login, monkeypatch):
    instance_id, switch = _park(app, login, monkeypatch)
    supervisor = PageClient(app, "supervisor")
    assert 'data-testid="open-incidents">1<' in supervisor.text("/dashboard/")
    page = supervisor.text("/admin/incidents/")
    assert "流程故障" in page and "下游系统不可用" in page and "重试" not in page.split("<table")[1]
    incident_id = int(page.split('data-incident="')[1].split('"')[0])
    refused = supervisor.post(f"/admin/incidents/{incident_id}/retry")
    assert refused.status_code == 302 and "/admin/incidents" not in refused.headers["Location"]
    assert 'data-testid="open-incidents"' not in PageClient(app, "qu_approver").text("/dashboard/")

    admin = PageClient(app, "admin")
    assert admin.post(f"/admin/incidents/{incident_id}/retry", csrf=False).status_code == 400  # CSRF
    failed = admin.post(f"/admin/incidents/{incident_id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "重试失败" in failed
    switch.on = False
    done = admin.post(f"/admin/incidents/{incident_id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "已重试成功" in done and "没有未处理的流程故障" in done
    assert f'data-incident="{incident_id}"' in admin.text("/admin/incidents/?status=resolved")
    assert 'data-testid="open-incidents">0<' in admin.text("/dashboard/")

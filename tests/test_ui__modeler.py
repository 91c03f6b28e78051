"""流程设计 pages: the modeler in a real browser (Playwright + system Chromium), and the server-rendered pages."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import ROOT, browser_login

ADD_TASK = """() => {
  const m = window.jiuzhuModeler;
  const registry = m.get('elementRegistry'), modeling = m.get('modeling');
  const flow = registry.get('flow_finalize_to_payment_setup');
  const shape = modeling.createShape({ type: 'bpmn:UserTask' }, { x: 3130, y: 955 },
                                     registry.get('participant_dibao'));
  modeling.updateProperties(shape, { id: 'benefit_review', name: '待遇复核' });
  modeling.reconnectEnd(flow, shape, { x: shape.x, y: shape.y + 40 });
  modeling.connect(shape, registry.get('payment_setup'));
  m.get('selection').select(shape);
  return shape.businessObject.$parent.id;
}"""


def _open_group(page, group_id: str) -> None:
    group = page.locator(f'[data-group-id="group-{group_id}"]')
    group.wait_for()
    if not group.locator(".bio-properties-panel-group-entries.open").count():
        group.locator(".bio-properties-panel-group-header").click()


@pytest.mark.browser
def test_modeler__designer_adds_a_task_fixes_the_form_and_deploys(page, screenshot, app):
    browser_login(page, "designer")
    page.wait_for_url(re.compile(r"/modeler/$"))
    assert page.locator("#processes tr[data-key=dibao]").count() == 1
    screenshot(page, "modeler-01-index")

    page.locator("#processes tr[data-key=dibao] a", has_text="打开").click()
    page.wait_for_selector("body[data-modeler-ready='1']", timeout=30_000)
    expect(page.locator("#jz-problems-title")).to_contain_text("校验通过", timeout=10_000)
    screenshot(page, "modeler-02-dibao-opened")

    assert page.evaluate(ADD_TASK) == "dibao"
    _open_group(page, "jiuzhu-task")
    page.select_option("#bio-properties-panel-jz-role", "district_approver")
    page.fill("#bio-properties-panel-jz-due", "3")
    page.locator("#bio-properties-panel-jz-due").blur()
    # The server's check (the same as on deploy) names the new element: it needs a form.
    expect(page.locator("#jz-element-problems")).to_contain_text("formKey", timeout=15_000)
    assert page.locator(".jz-problem-badge").count() >= 1
    assert page.locator("#jz-problems-list li.jz-error[data-element=benefit_review]").count() >= 1
    screenshot(page, "modeler-03-missing-form")

    page.select_option("#bio-properties-panel-jz-form", "review")
    expect(page.locator("#jz-problems-title")).to_contain_text("校验通过", timeout=15_000)
    assert page.locator(".jz-problem-badge").count() == 0
    screenshot(page, "modeler-04-fixed")

    page.click("#jz-deploy")
    expect(page.locator("#jz-status")).to_contain_text("已部署为", timeout=20_000)
    assert "版本 2" in page.inner_text("#jz-status")
    screenshot(page, "modeler-05-deployed")

    page.click("#jz-status a")
    page.wait_for_url(re.compile(r"/modeler/dibao/versions"))
    row = page.locator("#versions tr[data-version='2']")
    assert row.count() == 1 and "designer" in row.inner_text()
    screenshot(page, "modeler-06-versions")

    with app.app_context():
        from engine.models import ProcessDefinition
        from web.extensions import db

        v2 = db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "dibao",
                                                                ProcessDefinition.version == 2)).one()
        task = {t["element_id"]: t for t in v2.user_tasks}["benefit_review"]
        assert task["role"] == "district_approver" and task["form_key"] == "review"
        assert task["properties"]["dueInWorkingDays"] == "3"

    page.click("#versions tr[data-version='2'] a:has-text('与 v1 比较')")
    page.wait_for_selector("#diff-added")
    assert "待遇复核" in page.inner_text("#diff-added")
    screenshot(page, "modeler-07-diff")


@pytest.mark.browser
def test_modeler__migrate_in_bulk_and_view_an_instance(page, screenshot, login):
    from tests.scenario import Dibao

    cases = [Dibao(login) for _ in range(2)]
    for case in cases:
        case.through_street()
    xml = (ROOT / "bpmn" / "dibao.bpmn").read_text(encoding="utf-8").replace('name="公示期满"', 'name="公示期满（七天）"')
    assert login("designer").post("process-definitions", data=xml.encode(),
                                  headers={"Content-Type": "application/xml"}).status_code == 201

    browser_login(page, "designer")
    page.goto("/modeler/dibao/versions")
    page.click("#versions tr[data-version='1'] a:has-text('迁移到 v2')")
    page.wait_for_selector("#migration-form")
    page.fill("#element_id", "notice")
    page.click("button[value=preview]")
    page.wait_for_selector("#migration-results")
    assert "2 个可迁移" in page.inner_text("#migration-results h2")
    assert "保留原到期时间" in page.inner_text("#migration-results")
    screenshot(page, "modeler-08-migration-preview")
    page.click("#execute")
    page.wait_for_selector("#migration-results")
    assert "2 个已迁移" in page.inner_text("#migration-results h2")
    screenshot(page, "modeler-09-migration-done")

    page.click(f"#migration-results a:has-text('#{cases[0].instance_id}')")
    page.wait_for_selector("body[data-viewer-ready='1']")
    assert page.locator("[data-element-id=notice].jz-waiting").count() == 1
    assert page.locator("[data-element-id=accept].jz-completed").count() == 1
    assert page.locator("[data-element-id=approval].jz-completed").count() == 0
    assert "迁移到新流程版本" in page.inner_text("table.list")  # the one label of labels.ACTIONS
    screenshot(page, "modeler-10-instance-viewer")


def test_modeler__pages_are_for_designers(app, db):
    import re as regex

    client = app.test_client()
    token = regex.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "jd_heping", "password": "demo", "csrf_token": token})
    for path in ("/modeler/", "/modeler/edit?key=dibao", "/modeler/dibao/versions", "/modeler/instances/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/modeler" not in response.headers["Location"], path


def test_modeler__pages_answer_bad_input_without_500(app, db):
    import re as regex

    client = app.test_client()
    token = regex.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "designer", "password": "demo", "csrf_token": token})
    assert client.get("/modeler/").status_code == 200
    assert client.get("/modeler/edit?key=dibao").status_code == 200
    assert client.get("/modeler/edit?key=dibao&version=1").status_code == 200
    assert client.get("/modeler/edit?new=1&key=tekun&name=特困").status_code == 200
    assert client.get("/modeler/edit?new=1&key=1%20bad").status_code == 422
    assert client.get("/modeler/edit?key=nope").status_code == 404
    assert client.get("/modeler/edit?key=dibao&version=x").status_code == 404
    assert client.get("/modeler/dibao/diff?from=1&to=1").status_code == 200
    assert client.get("/modeler/dibao/diff?from=x&to=1").status_code == 404
    assert client.get("/modeler/nope/versions").status_code == 404
    assert client.get("/modeler/dibao/migrate?preview=1&to_version=x").status_code == 422
    assert client.get("/modeler/dibao/migrate?preview=1&to_version=9").status_code == 422
    assert client.get("/modeler/instances/999999").status_code == 404
    assert client.get("/modeler/instances?id=abc").status_code == 404


SELECT = "id => { const m = window.jiuzhuModeler; m.get('selection').select(m.get('elementRegistry').get(id)); }"


@pytest.mark.browser
def test_modeler__timer_helper_condition_and_a_new_diagram_as_draft(page, screenshot):
    browser_login(page, "designer")
    page.goto("/modeler/edit?key=dibao")
    page.wait_for_selector("body[data-modeler-ready='1']", timeout=30_000)

    page.evaluate(SELECT, "notice_period")
    _open_group(page, "jiuzhu-timer")
    assert page.input_value("#bio-properties-panel-jz-timer-expression") == '"P7D"'
    page.fill("#bio-properties-panel-jz-timer-amount", "10")
    page.locator("#bio-properties-panel-jz-timer-amount").blur()
    expect(page.locator("#bio-properties-panel-jz-timer-expression")).to_have_value('"P10D"', timeout=10_000)
    screenshot(page, "modeler-11-timer-helper")
    # A bare ISO value is flagged in the panel and by the server, on the element.
    page.fill("#bio-properties-panel-jz-timer-expression", "P10D")
    page.locator("#bio-properties-panel-jz-timer-expression").blur()
    expect(page.locator("#jz-element-problems")).to_contain_text("引号", timeout=15_000)
    assert "引号" in page.inner_text("[data-group-id='group-jiuzhu-timer']")

    page.evaluate(SELECT, "flow_accept_decision_to_refusal_notice")
    _open_group(page, "jiuzhu-condition")
    assert page.input_value("#bio-properties-panel-jz-condition") == "decision == 'reject'"
    page.evaluate(SELECT, "lane_street_reviewer")
    _open_group(page, "jiuzhu-lane")
    assert page.input_value("#bio-properties-panel-jz-lane-role") == "street_reviewer"

    page.goto("/modeler/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.fill("#new-key", "tekun")
    page.fill("#new-name", "特困人员供养审批")
    page.click("text=新建流程图")
    page.wait_for_selector("body[data-modeler-ready='1']", timeout=30_000)
    expect(page.locator("#jz-problems-title")).to_contain_text("错误", timeout=10_000)
    page.click("#jz-save")
    expect(page.locator("#jz-status")).to_contain_text("草稿已保存", timeout=10_000)
    assert "tekun" in page.inner_text("#jz-source") and "草稿第 1 版" in page.inner_text("#jz-source")
    with page.expect_download() as download:
        page.click("#jz-export")
    assert download.value.suggested_filename == "tekun.bpmn"
    screenshot(page, "modeler-12-new-diagram-draft")
    page.goto("/modeler/")
    assert page.locator("#drafts").inner_text().count("tekun") == 1

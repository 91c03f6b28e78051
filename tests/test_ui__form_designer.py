"""表单设计 in a real browser (Playwright + system Chromium): a designer drags fields from the form-js palette,
sets a required number with a range, saves, attaches the form to a task in the modeler and deploys; a street
clerk opens the task, is refused by the server for an out-of-range value (the message next to the field), fixes
it and completes. Screenshots in test-artifacts/screenshots/form-designer-*.png."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.bpmn_samples import form_task
from tests.conftest import browser_login


def _drag(page, source: str, target: str) -> None:
    """Drag with real mouse moves (form-js' palette uses dragula, which follows mouse events step by step)."""
    start = page.locator(source).bounding_box()
    end = page.locator(target).bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + start["height"] / 2 + 10, steps=5)
    x, y = end["x"] + end["width"] / 2, end["y"] + min(end["height"] - 10, 60)
    page.mouse.move(x, y, steps=20)
    page.mouse.move(x + 2, y + 2, steps=3)
    page.mouse.up()


def _set_text(page, selector: str, value: str) -> None:
    """Type into a properties-panel entry (an input, or the contenteditable editor form-js uses for labels)."""
    field = page.locator(selector)
    field.click()
    field.press("Control+a")
    field.press("Backspace")
    field.type(value)
    field.press("Tab")


def _open_group(page, group_id: str) -> None:
    group = page.locator(f'.fjs-properties-panel [data-group-id="group-{group_id}"]')
    group.wait_for()
    if not group.locator(".bio-properties-panel-group-entries.open").count():
        group.locator(".bio-properties-panel-group-header").click()


@pytest.mark.browser
def test_form_designer__design_attach_deploy_and_fill(page, browser, live_server, screenshot, login, app):
    browser_login(page, "designer")
    page.goto("/modeler/")
    page.click("#form-designer-link")
    page.wait_for_url(re.compile(r"/modeler/forms/$"))
    assert page.locator("#registered-forms tr", has_text="review").count() >= 1
    page.fill("#new-form-key", "visit_record")
    page.fill("#new-form-name", "走访登记")
    page.click("#new-form-button")
    page.wait_for_url(re.compile(r"/modeler/forms/visit_record"))
    page.wait_for_selector("body[data-form-editor-ready='1']", timeout=30_000)
    # Chinese palette, only the components the server validates.
    palette = page.locator(".fjs-palette")
    expect(palette).to_contain_text("文本框")
    expect(palette).to_contain_text("数字")
    assert page.locator(".fjs-palette-field[data-field-type=filepicker]").count() == 0
    screenshot(page, "form-designer-01-empty")

    _drag(page, ".fjs-palette-field[data-field-type=textfield]", ".fjs-form-container")
    expect(page.locator(".fjs-form-container .fjs-form-field-textfield")).to_have_count(1, timeout=10_000)
    _drag(page, ".fjs-palette-field[data-field-type=number]", ".fjs-form-container")
    expect(page.locator(".fjs-form-container .fjs-form-field-number")).to_have_count(1, timeout=10_000)

    # The text field: a label and key.
    page.locator(".fjs-form-container .fjs-form-field-textfield").click()
    _open_group(page, "general")
    _set_text(page, "#bio-properties-panel-label", "走访人")
    _set_text(page, "#bio-properties-panel-key", "visitor")
    # The number field: required, 0–5000.
    page.locator(".fjs-form-container .fjs-form-field-number").click()
    _open_group(page, "general")
    _set_text(page, "#bio-properties-panel-label", "核定金额")
    _set_text(page, "#bio-properties-panel-key", "amount")
    _open_group(page, "validation")
    page.locator("#bio-properties-panel-required").check()
    _set_text(page, "#bio-properties-panel-min", "0")
    _set_text(page, "#bio-properties-panel-max", "5000")
    screenshot(page, "form-designer-02-designed")

    page.click("#fe-save")
    expect(page.locator("#fe-status")).to_contain_text("已保存为第 1 版", timeout=10_000)
    screenshot(page, "form-designer-03-saved")
    saved = login("designer").get("forms/visit_record").get_json()
    by_key = {c.get("key"): c for c in saved["schema"]["components"]}
    assert by_key["amount"]["type"] == "number" and by_key["visitor"]["type"] == "textfield"
    # The editor writes the bounds as text (they may be FEEL there); the server reads them as numbers.
    assert {k: str(v) for k, v in by_key["amount"]["validate"].items()} == {"required": "True", "min": "0",
                                                                             "max": "5000"}

    # The modeler: a draft with the task, the form picked in the properties panel, deployed.
    draft = login("designer").post("process-definitions/drafts", json={"xml": form_task("visit_demo", None)})
    assert draft.status_code == 200, draft.get_json()
    page.goto("/modeler/edit?key=visit_demo&draft=1")
    page.wait_for_selector("body[data-modeler-ready='1']", timeout=30_000)
    page.click("[data-element-id=visit]")
    group = page.locator('[data-group-id="group-jiuzhu-task"]')
    group.wait_for()
    if not group.locator(".bio-properties-panel-group-entries.open").count():
        group.locator(".bio-properties-panel-group-header").click()
    picker = page.locator("#bio-properties-panel-jz-form")
    assert "走访登记（设计表单 第 1 版）（visit_record）" in picker.inner_text()
    picker.select_option("visit_record")
    expect(page.locator("#jz-problems-title")).to_contain_text("校验通过", timeout=15_000)
    screenshot(page, "form-designer-04-modeler")
    page.click("#jz-deploy")
    expect(page.locator("#jz-status")).to_contain_text("已部署为", timeout=20_000)
    screenshot(page, "form-designer-05-deployed")

    # A street clerk's task with the designed form.
    started = login("jd_heping").post("process-instances", json={"process_key": "visit_demo"})
    assert started.status_code == 201, started.get_json()
    task_id = started.get_json()["tasks"][0]["id"]
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        clerk = context.new_page()
        clerk.set_default_timeout(10_000)
        browser_login(clerk, "jd_heping")
        clerk.goto(f"/tasks/{task_id}")
        clerk.click("#claim-button")
        clerk.wait_for_selector("#task-form")
        expect(clerk.locator("#form h2")).to_have_text("走访登记")
        clerk.fill("#input-visitor", "王五")
        clerk.fill("#input-amount", "9000")
        clerk.click("#submit-button")
        clerk.wait_for_load_state()
        expect(clerk.locator("#field-amount .field-error")).to_contain_text("不能大于 5000")
        screenshot(clerk, "form-designer-06-out-of-range")

        clerk.fill("#input-amount", "4500")
        clerk.click("#submit-button")
        expect(clerk.locator(".flash")).to_contain_text("「走访登记」已办结")
        screenshot(clerk, "form-designer-07-completed")
    finally:
        context.close()
    task = login("jd_heping").get(f"tasks/{task_id}").get_json()
    assert task["status"] == "completed"
    assert task["data"]["amount"] == 4500 and task["data"]["visitor"] == "王五"


# -- the pages without a browser ----------------------------------------------------------------------------------

CONDITIONAL = {"type": "default", "components": [
    {"type": "select", "key": "kind", "label": "救助类型",
     "values": [{"label": "急难型", "value": "emergency"}, {"label": "支出型", "value": "expense"}]},
    {"type": "textarea", "key": "reason", "label": "支出原因", "validate": {"required": True},
     "conditional": {"hide": '=kind = "emergency"'}},
]}


def test_form_designer__pages_list_open_and_refuse(app, login):
    from tests.ui_pages import PageClient

    assert login("designer").post("forms", json={"key": "visit_record", "name": "走访登记",
                                                 "schema": CONDITIONAL}).status_code == 201
    designer = PageClient(app, "designer")
    html = designer.text("/modeler/forms/")
    assert 'data-key="visit_record"' in html and "第 1 版（共 1 版）" in html and "dibao_survey" in html
    assert 'id="form-designer-link"' in designer.text("/modeler/")
    refused = designer.get("/modeler/forms/new?key=review")
    assert refused.status_code == 422 and "系统内置表单" in refused.get_data(as_text=True)
    assert designer.get("/modeler/forms/new?key=9x").status_code == 422
    assert designer.get("/modeler/forms/new?key=new_form&name=新表单").status_code == 302
    editor = designer.text("/modeler/forms/visit_record")
    assert '"key": "visit_record"' in editor and '"version": 1' in editor and "build/form-editor.js" in editor
    # The modeler's form picker lists the designed form beside the registered ones.
    modeler = designer.text("/modeler/edit?new=1&key=demo&name=演示")
    assert "走访登记（设计表单 第 1 版）" in modeler and "dibao_survey" in modeler
    # Not for street staff.
    assert PageClient(app, "jd_heping").get("/modeler/forms/").status_code == 302


def test_form_designer__the_task_page_renders_and_checks_the_designed_form(app, login):
    from tests.ui_pages import PageClient, error_for

    designer = login("designer")
    assert designer.post("forms", json={"key": "visit_record", "name": "走访登记", "schema": CONDITIONAL}
                         ).status_code == 201
    assert designer.post("process-definitions", data=form_task("visit_demo", "visit_record"),
                         headers={"Content-Type": "application/xml"}).status_code == 201
    task_id = login("jd_heping").post("process-instances", json={"process_key": "visit_demo"}
                                      ).get_json()["tasks"][0]["id"]
    assert login("jd_heping").post(f"tasks/{task_id}/claim").status_code == 200
    clerk = PageClient(app, "jd_heping")
    html = clerk.text(f"/tasks/{task_id}")
    assert 'data-hide="=kind = &#34;emergency&#34;"' in html and "staff/designed-form.js" in html
    assert 'value="expense"' in html and "支出型" in html

    refused = clerk.post(f"/tasks/{task_id}", {"action": "complete", "kind": "expense", "reason": ""})
    assert refused.status_code == 422
    assert error_for(refused.get_data(as_text=True), "reason") == ["此项为必填项"]
    done = clerk.post(f"/tasks/{task_id}", {"action": "complete", "kind": "emergency", "reason": "不该留下"})
    assert done.status_code == 302
    data = login("jd_heping").get(f"tasks/{task_id}").get_json()["data"]
    assert data["kind"] == "emergency" and data["reason"] is None


@pytest.mark.browser
def test_form_designer__a_conditional_field_hides_on_the_task_page(page, login, screenshot):
    designer = login("designer")
    assert designer.post("forms", json={"key": "visit_record", "name": "走访登记", "schema": CONDITIONAL}
                         ).status_code == 201
    assert designer.post("process-definitions", data=form_task("visit_demo", "visit_record"),
                         headers={"Content-Type": "application/xml"}).status_code == 201
    task_id = login("jd_heping").post("process-instances", json={"process_key": "visit_demo"}
                                      ).get_json()["tasks"][0]["id"]
    assert login("jd_heping").post(f"tasks/{task_id}/claim").status_code == 200
    browser_login(page, "jd_heping")
    page.goto(f"/tasks/{task_id}")
    reason = page.locator("#field-reason")
    expect(reason).to_be_visible()
    page.check("input[name=kind][value=emergency]")
    expect(reason).to_be_hidden()
    screenshot(page, "form-designer-08-hidden-if")
    page.check("input[name=kind][value=expense]")
    expect(reason).to_be_visible()

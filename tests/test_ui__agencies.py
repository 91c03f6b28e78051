"""Agency inboxes and the supervisor's per-agency view in the pages: the 区教委 officer logs in, sees only 区教委's
待办 (a 区残联 task exists and is not shown), opens and completes the task; the supervisor's dashboard lists 区教委 as
a row of 按单位 and drills down to its overdue tasks, with the agency in the list and the Excel export."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.agency_cases import agency_case, deploy_agency_process
from tests.conftest import browser_login
from tests.scenario import advance
from tests.ui_pages import PageClient


@pytest.fixture
def agency_work(app, login):
    """A 区教委 task (张三's 助困 case) and a 区残联 task (李四's 救灾 case), both in 和平街道."""
    deploy_agency_process(login, "agency_jiaowei", "区教委", name="教委核查")
    deploy_agency_process(login, "agency_canlian", "区残联", name="残联核查")
    return (agency_case(app, "agency_jiaowei", program="zhukun", name="张三"),
            agency_case(app, "agency_canlian", program="jiuzai", name="李四"))


def inbox_rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [r for r in body.split("<tr")[1:] if 'class="empty"' not in r]


def test_ui__agency_inbox_tabs_show_only_the_agencys_work(app, login, agency_work):
    jiaowei_case, canlian_case = agency_work
    officer = PageClient(app, "jiaowei")
    todo = officer.text("/inbox")
    assert 'data-testid="my-agency">· 区教委' in todo
    assert len(inbox_rows(todo)) == 1 and "教委核查" in todo and 'data-agency="区教委"' in todo
    assert "李四" not in todo and "残联核查" not in todo
    advance(login, "P7D")  # both tasks late
    for tab in ("todo", "overdue", "done", "started", "copied"):
        html = officer.text(f"/inbox?tab={tab}")
        assert "李四" not in html and "残联核查" not in html, tab
    assert "教委核查" in officer.text("/inbox?tab=overdue")
    # The other agency's task page and case page are not found; the street still sees its case.
    assert officer.get(f"/tasks/{canlian_case.task_id}").status_code == 404
    assert officer.get(f"/cases/{canlian_case.id}").status_code == 404
    other = PageClient(app, "canlian").text("/inbox")
    assert "残联核查" in other and "教委核查" not in other and "张三" not in other
    street = PageClient(app, "jd_heping").text("/inbox")
    assert "教委核查" not in street and "残联核查" not in street  # not the street clerk's desk


def test_ui__dashboard_rows_per_agency_and_drill_down(app, login, agency_work):
    jiaowei_case, _ = agency_work
    advance(login, "P7D")
    supervisor = PageClient(app, "supervisor")
    html = supervisor.text("/dashboard/")
    section = html.split('data-group="agency"', 1)[1].split("</section>", 1)[0]
    assert 'data-key="区教委"' in section and 'data-key="区残联"' in section
    assert 'data-key="agency_officer"' not in section
    listed = supervisor.text("/dashboard/overdue?group_by=agency&key=区教委")
    assert re.search(r'data-testid="list-total">1<', listed)
    assert f'data-task="{jiaowei_case.task_id}"' in listed and 'data-field="agency">区教委<' in listed
    assert "残联核查" not in listed
    exported = supervisor.get("/dashboard/overdue.xlsx?group_by=agency&key=区教委")
    rows = list(load_workbook(io.BytesIO(exported.data)).active.iter_rows(values_only=True))
    assert [r[rows[1].index("单位")] for r in rows[2:]] == ["区教委"]


@pytest.mark.browser
def test_ui__agency_officer_completes_its_task_and_the_supervisor_sees_the_agency(page, app, login, agency_work,
                                                                                 screenshot):
    jiaowei_case, canlian_case = agency_work
    browser_login(page, "jiaowei")
    page.goto("/inbox")
    expect(page.locator("[data-testid=my-agency]")).to_contain_text("区教委")
    rows = page.locator("table.inbox-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("教委核查")
    expect(rows.first.locator("[data-agency]")).to_have_text("区教委")
    expect(page.locator("table.inbox-table")).not_to_contain_text("残联核查")
    expect(page.locator("table.inbox-table")).not_to_contain_text("李四")
    screenshot(page, "inbox-agency-jiaowei")

    rows.first.locator("button", has_text="认领").click()
    expect(page.locator(".flash-success")).to_contain_text("已认领「教委核查」")
    page.locator("table.inbox-table tbody tr", has_text="教委核查").first.locator("a", has_text="教委核查").click()
    expect(page.locator(".task-head h1")).to_have_text("教委核查")
    page.check("input[name=decision][value=approve]")
    page.fill("#input-opinion", "经核查情况属实")
    page.click("#submit-button")
    expect(page.locator(".flash-success")).to_contain_text("「教委核查」已办结")
    page.goto("/inbox")
    expect(page.locator("table.inbox-table tbody tr td.empty")).to_have_text("暂无待办任务")
    page.goto("/inbox?tab=done")
    expect(page.locator("table.inbox-table tbody")).to_contain_text("教委核查")
    # Another agency's task is not found, even by its address.
    response = page.goto(f"/tasks/{canlian_case.task_id}")
    assert response is not None and response.status == 404
    page.click(".who button")
    page.wait_for_url(re.compile(r"/login"))

    # The supervisor's dashboard: 区残联's late task under its own row, 区教委's row once it has work again.
    deploy_agency_process(login, "agency_jiaowei_2", "区教委", name="教委复核")
    agency_case(app, "agency_jiaowei_2", program="zhukun", name="王五")
    advance(login, "P7D")
    browser_login(page, "supervisor")
    page.goto("/dashboard/")
    jiaowei_row = page.locator("[data-group=agency] tr[data-key='区教委']")
    expect(jiaowei_row.locator("[data-field=overdue]")).to_have_text("1")
    expect(page.locator("[data-group=agency] tr[data-key='区残联'] [data-field=overdue]")).to_have_text("1")
    screenshot(page, "dashboard-by-agency")
    jiaowei_row.locator("td a").first.click()
    page.wait_for_selector("[data-testid=list-total]")
    expect(page.locator("[data-testid=list-total]")).to_have_text("1")
    expect(page.locator("table.list tbody")).to_contain_text("教委复核")
    expect(page.locator("table.list tbody [data-field=agency]")).to_have_text("区教委")


@pytest.mark.browser
def test_ui__modeler_sets_a_tasks_agency(page, app, screenshot):
    """The properties panel offers 办理单位 next to the role and form: the registered agencies and the program's
    lead agency as `${lead_agency}`; the choice is written as the task's `agency` property and deployed."""
    from sqlalchemy import select

    from tests.test_ui__modeler import ADD_TASK, _open_group

    browser_login(page, "designer")
    page.goto("/modeler/edit?key=dibao")
    page.wait_for_selector("body[data-modeler-ready='1']", timeout=30_000)
    assert page.evaluate(ADD_TASK) == "dibao"
    _open_group(page, "jiuzhu-task")
    agency = page.locator("#bio-properties-panel-jz-agency")
    options = agency.locator("option").all_inner_texts()
    assert "区教委" in options and "区红十字会" in options and any("${lead_agency}" in o for o in options)
    page.select_option("#bio-properties-panel-jz-role", "agency_officer")
    page.select_option("#bio-properties-panel-jz-agency", "区教委")
    page.select_option("#bio-properties-panel-jz-form", "review")
    page.fill("#bio-properties-panel-jz-due", "2")
    page.locator("#bio-properties-panel-jz-due").blur()
    expect(page.locator("#jz-problems-title")).to_contain_text("校验通过", timeout=15_000)
    screenshot(page, "modeler-agency")
    page.click("#jz-deploy")
    expect(page.locator("#jz-status")).to_contain_text("已部署为", timeout=20_000)

    with app.app_context():
        from engine.models import ProcessDefinition
        from web.extensions import db

        latest = db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == "dibao")
                                    .order_by(ProcessDefinition.version.desc())).first()
        task = {t["element_id"]: t for t in latest.user_tasks}["benefit_review"]
        db.session.remove()
    assert task["role"] == "agency_officer" and task["properties"]["agency"] == "区教委"
    # Back to 项目牵头单位: the property holds the variable.
    page.select_option("#bio-properties-panel-jz-agency", "${lead_agency}")
    xml = page.evaluate("async () => (await window.jiuzhuModeler.saveXML()).xml")
    assert '<spiffworkflow:property name="agency" value="${lead_agency}" />' in xml

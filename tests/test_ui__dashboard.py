"""督办看板: the supervisor's dashboard pages, server-side and in Chromium."""
from __future__ import annotations

import io

import pytest

from tests.conftest import browser_login
from tests.scenario import Dibao, advance


@pytest.fixture
def late(login):
    """Four cases on Mon 2 Mar 2026, three accepted (surveys due 24:00 Mon 16 Mar); seen on Thu 19 Mar."""
    cases = [Dibao(login, street=s) for s in ("和平街道", "和平街道", "安定街道", "安定街道")]
    for case in cases[:3]:
        case.accept()
    advance(login, "P14D")
    advance(login, "P3D")
    return cases


def _session_as(client, username: str):
    from web.auth import page_session_id

    with client.application.app_context():
        sid = page_session_id(username)
    with client.session_transaction() as session:
        session["sid"] = sid
    return client


def test_ui__dashboard_numbers_match_the_api(client, login, late):
    page = _session_as(client, "supervisor").get("/dashboard/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    api = login("supervisor").get("reports/overdue/summary").get_json()
    assert f'data-testid="total-overdue">{api["total"]["overdue"]}<' in html
    assert f'data-testid="total-open">{api["total"]["open"]}<' in html
    assert "督办看板" in html and "按街道" in html and "逾期时长分布" in html and "<svg" in html
    assert "dashboard.css" in html


def test_ui__drill_down_export_and_case_page(client, login, late):
    supervisor = _session_as(client, "supervisor")
    listing = supervisor.get("/dashboard/overdue?group_by=street&key=和平街道")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert 'data-testid="list-total">2<' in html and "入户调查" in html
    from openpyxl import load_workbook

    export = supervisor.get("/dashboard/overdue.xlsx?group_by=street&key=安定街道")
    assert export.status_code == 200
    rows = list(load_workbook(io.BytesIO(export.data))["逾期任务"].iter_rows(values_only=True))
    assert len(rows) == 3 and rows[2][6] == "安定街道"
    case_page = supervisor.get(f"/dashboard/cases/{late[0].id}")
    assert case_page.status_code == 200
    text = case_page.get_data(as_text=True)
    assert "入户调查" in text and "升级督办" in text and "催办" in text
    assert supervisor.get("/dashboard/cases/999999").status_code == 404


def test_ui__dashboard_only_for_supervising_roles(client, login):
    assert client.get("/dashboard/").status_code == 302  # not logged in → login page
    response = _session_as(client, "jd_heping").get("/dashboard/")
    assert response.status_code == 302 and "/dashboard" not in response.headers["Location"]
    assert _session_as(client, "qu_approver").get("/dashboard/").status_code == 200


@pytest.mark.browser
def test_ui__supervisor_sees_the_counts_the_api_reports(page, login, late, screenshot):
    api = login("supervisor")
    summary = api.get("reports/overdue/summary").get_json()
    by_street = {g["key"]: g for g in api.get("reports/overdue?group_by=street").get_json()["items"]}
    by_step = {g["key"]: g for g in api.get("reports/overdue?group_by=step").get_json()["items"]}
    assert summary["total"]["overdue"] == 3

    browser_login(page, "supervisor")
    assert page.url.rstrip("/").endswith("/dashboard")  # the supervisor's home
    assert page.locator("[data-testid=total-overdue]").inner_text() == str(summary["total"]["overdue"])
    assert page.locator("[data-testid=total-open]").inner_text() == str(summary["total"]["open"])
    assert page.locator("[data-testid=total-escalated]").inner_text() == str(summary["total"]["escalated"])
    for street, group in by_street.items():
        row = page.locator(f"[data-group=street] tr[data-key='{street}']")
        assert row.locator("[data-field=overdue]").inner_text() == str(group["overdue"])
        assert row.locator("[data-field=open]").inner_text() == str(group["open"])
    survey = page.locator("[data-group=step] tr[data-key='入户调查']")
    assert survey.locator("[data-field=overdue]").inner_text() == str(by_step["入户调查"]["overdue"])
    assert page.locator(".dash-columns svg rect").count() > 0
    screenshot(page, "dashboard-supervisor")

    # Drill down: the street's overdue tasks, then one case, then urge its late survey.
    page.click("[data-group=street] tr[data-key='和平街道'] td >> text=和平街道")
    page.wait_for_selector("[data-testid=list-total]")
    assert page.locator("[data-testid=list-total]").inner_text() == str(by_street["和平街道"]["overdue"])
    screenshot(page, "dashboard-overdue-list")
    page.locator("table.list tbody tr").first.locator("td").first.locator("a").first.click()
    page.wait_for_selector("text=各环节办理期限")
    page.fill(".urge-form input[name=message]", "请今日内完成入户调查")
    page.click(".urge-form button")
    page.wait_for_selector(".flash-success")
    assert "已催办" in page.locator(".flash-success").inner_text()
    assert page.locator(".dash-events li[data-kind=urged]").count() == 1
    screenshot(page, "dashboard-case-urged")

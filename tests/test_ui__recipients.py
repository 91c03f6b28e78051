"""The register page, its Excel export, a recipient's page, the standards page (preview, then apply) and the
case page's 发放与复核记录 — scoped by jurisdiction, names masked."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.conftest import browser_login
from tests.scenario import approved_case
from tests.ui_pages import PageClient


@pytest.fixture
def two_recipients(login):
    heping, anding = approved_case(login), approved_case(login, street="安定街道")
    items = {r["case_id"]: r for r in login("admin").get("recipients").get_json()["items"]}
    return items[heping.id], items[anding.id]


def test_ui__register_list_filters_scope_export_and_pages(app, two_recipients):
    heping, anding = two_recipients
    pages = PageClient(app, "qu_approver")
    html = pages.text("/recipients")
    assert f"#{heping['id']}" in html and f"#{anding['id']}" in html
    assert "张*" in html and "2,269.00" in html and "张三" not in html
    filtered = pages.text("/recipients?street=安定街道&status=active&month=2026-04&program=dibao")
    assert f"#{anding['id']}" in filtered and f"/recipients/{heping['id']}\"" not in filtered
    assert "没有符合条件" in pages.text("/recipients?status=stopped")
    assert "没有符合条件" in pages.text("/recipients?month=2026-03")  # approved in March: paid from April
    assert "月份格式" in pages.text("/recipients?month=2026-13")  # a bad month is said, not a 500

    export = pages.get("/recipients/export.xlsx?street=安定街道")
    assert export.status_code == 200 and "register.xlsx" in export.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(export.data)).active
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [(r[0], r[3], float(r[9]), r[11]) for r in rows] == [(anding["id"], "张*", 2269.0, "2026-04")]

    # The other street's clerk sees only their own street, and 404 for the other's recipient.
    clerk = PageClient(app, "jd_anding")
    own = clerk.text("/recipients")
    assert f"/recipients/{anding['id']}\"" in own and f"/recipients/{heping['id']}\"" not in own
    assert clerk.get(f"/recipients/{heping['id']}").status_code == 404
    detail = clerk.text(f"/recipients/{anding['id']}")
    assert "2269.00 元/月" in detail and "审批纳入" in detail and "暂无发放记录" in detail and "差额补助" in detail

    # The case page carries the household's register entry and its history.
    case_page = clerk.text(f"/cases/{anding['case_id']}")
    assert "发放与复核记录" in case_page and "审批纳入" in case_page and "2026-04" in case_page


def test_ui__standards_preview_then_apply(app, login, two_recipients):
    heping, _anding = two_recipients
    finance = PageClient(app, "cz_payer")
    form = {"program": "dibao", "area": "urban", "amount": "1500", "effective_month": "2026-04"}
    preview = finance.post("/recipients/standards/preview", data=form)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "受影响 <strong>2</strong> 户" in text and "2500.00" in text
    assert 'id="standard-apply"' not in text  # finance may look, not apply

    approver = PageClient(app, "qu_approver")
    bad = approver.post("/recipients/standards/preview", data=dict(form, effective_month="2026-01"))
    assert bad.status_code == 422 and "不能早于本月" in bad.get_data(as_text=True)
    text = approver.post("/recipients/standards/preview", data=form).get_data(as_text=True)
    assert 'id="standard-apply"' in text
    assert login("admin").get(f"recipients/{heping['id']}").get_json()["monthly_amount"] == "2269.00"
    applied = approver.post("/recipients/standards", data=form)
    assert applied.status_code == 302
    assert "2 户自 2026-04 起" in approver.text("/recipients/standards")
    assert login("admin").get(f"recipients/{heping['id']}").get_json()["monthly_amount"] == "2500.00"
    assert "标准调整" in approver.text(f"/recipients/{heping['id']}")
    # Applying the same month again is refused with the field's reason; nothing changes.
    again = approver.post("/recipients/standards", data=form)
    assert again.status_code == 422 and "已有城市标准" in again.get_data(as_text=True)


@pytest.mark.browser
def test_ui__register_page_filters_and_export_link(page, login, two_recipients, screenshot):
    heping, anding = two_recipients
    browser_login(page, "qu_approver")
    page.goto("/recipients")
    assert page.locator("#register-table tbody tr").count() == 2
    page.select_option("#register-filters select[name=street]", "安定街道")
    page.click("#register-filters button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("#register-table tbody tr")
    assert rows.count() == 1 and f"#{anding['id']}" in rows.first.inner_text()
    href = page.locator("#register-export").get_attribute("href")
    assert href.startswith("/recipients/export.xlsx") and "street=" in href
    with page.expect_download() as download:
        page.click("#register-export")
    assert download.value.suggested_filename.endswith(".xlsx")
    screenshot(page, "register")


def test_ui__recipient_page_records_an_event_through_the_events_service(app, login, two_recipients):
    _, anding = two_recipients
    clerk = PageClient(app, "jd_anding")
    page = clerk.text(f"/recipients/{anding['id']}")
    assert "登记家庭事件" in page and 'name="member"' in page

    missing = clerk.post(f"/recipients/{anding['id']}/events", {"type": "death", "member": ""})
    assert missing.status_code == 302
    assert "该事件须指明家庭成员" in clerk.text(f"/recipients/{anding['id']}")

    done = clerk.post(f"/recipients/{anding['id']}/events", {"type": "death", "member": "1", "note": "入户核实"})
    assert done.status_code == 302
    after = clerk.text(f"/recipients/{anding['id']}")
    assert "已启动复核" in after
    # The same review the API lists: one open review, triggered by the death, due within 3 months.
    reviews = login("jd_anding").get(f"reviews?recipient_id={anding['id']}").get_json()["items"]
    assert [(r["trigger"], r["status"]) for r in reviews] == [("death", "open")]
    assert reviews[0]["due_date"] <= "2026-06-30"

    # Staff of another street neither see the form's target nor can post to it; finance sees no form.
    other = PageClient(app, "jd_heping")
    assert other.post(f"/recipients/{anding['id']}/events", {"type": "income_change"}).status_code == 404
    assert "登记家庭事件" not in PageClient(app, "cz_payer").text(f"/recipients/{anding['id']}")

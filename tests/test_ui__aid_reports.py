"""The joint conference's page (/reports/aid): the duplicate and missed lists and the quarterly table with its Excel
download, scoped like the API; the case page's 救助记录 section; the demo's aid records (workflows.demo_aid)."""
from __future__ import annotations

import io
import re
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.conftest import browser_login
from tests.scenario import id_number
from tests.ui_pages import PageClient

NOW = datetime.fromisoformat("2026-03-02T09:00:00+08:00")


@pytest.fixture
def demo_aid(app, db):
    """Two approved 低保 households (one with a disabled son, one with a seriously ill wife), their 低保 on the aid
    register, and the demo's other-agency aid on top (seed_aid): a 助残 duplicate, a past 临时救助."""
    from workflows.aid.records import record_aid
    from workflows.demo_aid import seed_aid
    from workflows.models import Case, CaseStatus

    def household(street, community, extra):
        head = {"name": "周建国", "id_number": id_number("19600101"), "relation": "本人", "birth_date": "1960-01-01",
                "work_capacity": "partial"}
        other = {"name": "周家人", "id_number": id_number("19900101"), "relation": "子女", "birth_date": "1990-01-01",
                 "work_capacity": "none", **extra}
        return Case(program="dibao", district="示范区", street=street, community=community, applicant_name="周建国",
                    applicant_id_number=head["id_number"], household={"members": [head, other]}, household_size=2,
                    declared_monthly_income=Decimal("800"), status=CaseStatus.APPROVED, amount=Decimal("2269.00"),
                    created_by="sq_heping", created_at=NOW, updated_at=NOW, decided_at=NOW)

    with app.app_context():
        disabled = household("和平街道", "和平里社区", {"disability_grade": 1})
        ill = household("安定街道", "安定门社区", {"serious_illness": True})
        db.session.add_all([disabled, ill])
        db.session.flush()
        for case in (disabled, ill):
            record_aid(db.session, case, program="dibao", agency="区民政局", now=NOW,
                       period_from=datetime(2026, 4, 1).date(), amount=Decimal("2269.00"), monthly=True)
        engine = app.extensions["jiuzhu.engine"]
        assert seed_aid(db.session, engine) == 3
        assert seed_aid(db.session, engine) == 0  # once only
        ids = disabled.id, ill.id
        db.session.remove()
    return ids


def test_ui__aid_page_lists_duplicate_missed_and_quarterly(app, demo_aid):
    disabled, ill = demo_aid
    pages = PageClient(app, "supervisor")
    html = pages.text("/reports/aid")
    assert "救助信息共享" in pages.text("/inbox")  # the nav link
    assert "疑似重复救助（1）" in html and "不同单位同期重复救助" in html and "区慈善协会" in html
    assert "疑似遗漏救助（1）" in html and "重病成员未享受助医" in html and f"/cases/{ill}" in html
    assert "周家人" not in html and "周*人" in html  # names masked
    assert "2026年第1季度" in html and "区残联" in html
    assert "/reports/aid/quarterly.xlsx?year=2026&amp;quarter=1" in html
    export = pages.get("/reports/aid/quarterly.xlsx?year=2026&quarter=1")
    assert export.status_code == 200 and "quarterly.xlsx" in export.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(export.data)).active
    assert {row[0] for row in sheet.iter_rows(min_row=3, values_only=True)} >= {"区残联", "区民政局", "合计"}
    # A hand-edited address falls back to this quarter instead of failing.
    assert "2026年第1季度" in pages.text("/reports/aid?year=abc&quarter=9&agency=nobody")

    # The street of the ill household sees its miss and not the other street's duplicate.
    anding = PageClient(app, "jd_anding").text("/reports/aid")
    assert "疑似重复救助（0）" in anding and "疑似遗漏救助（1）" in anding
    # 区残联 sees its own aid in the duplicate and its own quarterly rows only; no 助医 rule.
    canlian = PageClient(app, "canlian").text("/reports/aid")
    assert "疑似重复救助（1）" in canlian and "疑似遗漏救助（0）" in canlian and "区民政局</td>" not in canlian
    assert PageClient(app, "canlian").get("/reports/aid/quarterly.xlsx?agency=区民政局").status_code == 200
    # A community worker has no access to the report.
    assert PageClient(app, "sq_heping").get("/reports/aid").status_code == 302


def test_ui__case_page_shows_household_aid(app, demo_aid):
    disabled, _ill = demo_aid
    html = PageClient(app, "jd_heping").text(f"/cases/{disabled}")
    assert "救助记录（联席会信息共享）" in html
    for text in ("助残", "区残联", "区慈善协会", "最低生活保障（低保）", "300.00", "/月", "在享"):
        assert text in html, text
    assert "周家人" in html  # the household table shows names to staff; ID numbers are masked everywhere
    assert not re.search(r"\d{17}[\dX]", html)


@pytest.mark.browser
def test_ui__supervisor_sees_duplicate_in_browser(page, demo_aid, screenshot):
    browser_login(page, "supervisor")
    page.click("nav >> text=救助信息共享")
    page.wait_for_load_state()
    duplicates = page.locator("[data-testid=duplicates] tbody tr")
    assert duplicates.count() == 1
    assert "不同单位同期重复救助" in duplicates.first.inner_text()
    assert "区慈善协会" in duplicates.first.inner_text()
    assert page.locator("[data-testid=missed] tbody tr").count() == 1
    assert page.locator("#quarterly-export").get_attribute("href").startswith("/reports/aid/quarterly.xlsx")
    page.select_option("select[name=quarter]", "2")
    page.click("#quarterly-filters button[type=submit]")
    page.wait_for_load_state()
    assert "2026年第2季度" in page.locator("#aid-quarterly h2").inner_text()
    screenshot(page, "aid_reports")

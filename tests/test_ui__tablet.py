"""Browser checks of the other pages and of tablet width (820×1180): inbox tabs, case list, return, upload."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.scenario import Dibao

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}


def test_ui__inbox_and_task_at_tablet_width(page, login, screenshot):
    cases = [Dibao(login, name=n) for n in ("张三", "李四", "王五")]
    cases[0].accept()
    page.set_viewport_size(TABLET)
    browser_login(page, "jd_heping")
    expect(page.locator("table.inbox-table tbody tr")).to_have_count(3)
    # Nothing spills out of the viewport sideways (the table scrolls inside its card).
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    screenshot(page, "inbox-tablet")
    page.locator("tr", has_text="张三").locator("a", has_text="入户调查").click()
    page.click("#claim-button")
    expect(page.locator("#task-form")).to_be_visible()
    # The household table: add a member; the birth date follows the ID number.
    page.click("button.add-member")
    page.fill("input[name='members-2-name']", "张小小")
    page.fill("input[name='members-2-id_number']", "110105201501010017")
    page.locator("input[name='members-2-id_number']").dispatch_event("change")
    expect(page.locator("input[name='members-2-birth_date']")).to_have_value("2015-01-01")
    page.click(".list-field .add-item")
    expect(page.locator(".list-field[data-name=investigators] input")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    screenshot(page, "task-tablet")


def test_ui__return_upload_and_copies(page, login, screenshot, tmp_path):
    case = Dibao(login, name="赵六")
    case.accept()
    case.survey()
    case.economic_check()
    case.appraise()
    browser_login(page, "jd_heping_lead")
    page.locator("tr", has_text="赵六").locator("button", has_text="认领").click()
    page.locator("tr", has_text="赵六").locator("a", has_text="街道审核").click()
    # Upload: a wrong type is refused next to the field; a PDF is listed.
    bad = tmp_path / "说明.txt"
    bad.write_text("hello")
    page.set_input_files("#attachment-file", str(bad))
    page.locator("#attachments button[type=submit]").click()
    expect(page.locator("[data-error-for=attachment-file]")).to_contain_text("不支持的文件类型")
    good = tmp_path / "入户照片说明.pdf"
    good.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.set_input_files("#attachment-file", str(good))
    expect(page.locator("label.file-pick .file-name")).to_have_text("入户照片说明.pdf")
    page.locator("#attachments button[type=submit]").click()
    expect(page.locator("ul.attachments")).to_contain_text("入户照片说明.pdf")
    # Copy to the district inspector.
    page.click("#copy summary")
    page.check("#copy input[value=qu_inspector]")
    page.fill("#copy-note", "请区里提前关注")
    page.locator("#copy button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("已抄送给 区民政局 赵磊")
    # Return without a reason: the error is next to the field, the panel stays open.
    page.click("#return summary")
    page.select_option("#return-to", "household_survey")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#return button[type=submit]").click()
    expect(page.locator("[data-error-for=return-reason]")).to_have_text("退回须填写理由")
    expect(page.locator("#return")).to_have_attribute("open", "")
    page.select_option("#return-to", "household_survey")
    page.fill("#return-reason", "收入核实材料不全，请补充银行流水")
    screenshot(page, "task-return")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#return button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("退回到「入户调查」")
    page.click("text=已办")
    expect(page.locator("table.inbox-table")).to_contain_text("已退回")
    screenshot(page, "inbox-done")
    page.click(".who button")
    browser_login(page, "qu_inspector")
    page.click("text=抄送我的")
    expect(page.locator("table.inbox-table")).to_contain_text("请区里提前关注")
    screenshot(page, "inbox-copied")
    page.locator("tr", has_text="赵六").locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/cases/\d+"))
    expect(page.locator("#history")).to_contain_text("收入核实材料不全，请补充银行流水")
    page.click("nav.mainnav >> text=案件")
    expect(page.locator("table.list")).to_contain_text("赵六")
    screenshot(page, "cases-list")

"""The staff UI in a real browser (Playwright driving Debian's chromium): apply → accept → survey → appraisal →
review (reject without an opinion, then with one) → the case page's live diagram; screenshots of each page."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.scenario import Dibao, id_number

pytestmark = pytest.mark.browser


def existing_case(login, case_id: int) -> Dibao:
    """A scenario driver for a case opened elsewhere (here: through the application page)."""
    case = Dibao.__new__(Dibao)
    case.login = login
    case.staff = {"clerk": "jd_heping", "lead": "jd_heping_lead", "community": "sq_heping"}
    case.id = case_id
    case.instance_id = case.case()["process_instance_id"]
    return case


def logout(page):
    page.click(".who button")
    page.wait_for_url(re.compile(r"/login"))


def claim_from_inbox(page, step: str):
    page.goto("/inbox")
    row = page.locator("table.inbox-table tbody tr", has_text=step).first
    row.locator("button", has_text="认领").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已认领「{step}」")
    page.locator("table.inbox-table tbody tr", has_text=step).first.locator("a", has_text=step).click()
    expect(page.locator(".task-head h1")).to_have_text(step)


def test_ui__application_to_review_with_diagram(page, login, screenshot):
    applicant_id = id_number("19700101", serial=501)
    child_id = id_number("20150601", serial=502)

    # 1. A community worker submits an application; a wrong ID number comes back next to its field.
    browser_login(page, "sq_heping")
    expect(page).to_have_url(re.compile(r"/inbox"))
    page.click("text=新建申请")
    page.fill("#applicant-name", "李四")
    page.fill("#applicant-id", applicant_id)
    page.fill("#applicant-phone", "13800000001")
    page.fill("input[name='members-0-name']", "李四")
    page.fill("input[name='members-0-id_number']", applicant_id)
    page.select_option("select[name='members-0-work_capacity']", "partial")
    page.click("button.add-member")
    page.fill("input[name='members-1-name']", "李小四")
    page.fill("input[name='members-1-relation']", "子女")
    page.fill("input[name='members-1-id_number']", child_id[:-1] + ("0" if child_id[-1] != "0" else "1"))
    page.select_option("select[name='members-1-work_capacity']", "none")
    page.fill("#income", "800")
    page.fill("#savings", "1000")
    screenshot(page, "apply-form")
    page.click("#apply-submit")
    error = page.locator("[data-error-for='members-1-id_number']")
    expect(error).to_contain_text("校验码")
    screenshot(page, "apply-field-error")
    page.fill("input[name='members-1-id_number']", child_id)
    page.click("#apply-submit")
    expect(page.locator(".flash-success")).to_contain_text("申请已提交")
    case_id = int(re.search(r"/cases/(\d+)", page.url).group(1))
    expect(page.locator("#household tbody tr")).to_have_count(2)
    assert applicant_id not in page.content()  # ID numbers are masked on every page
    logout(page)

    # 2. The street clerk accepts it and files the relatives check, claiming each from the inbox.
    browser_login(page, "jd_heping")
    expect(page.locator("table.inbox-table")).to_contain_text("李四")
    screenshot(page, "inbox-todo")
    claim_from_inbox(page, "受理")
    page.check("input[name=decision][value=accept]")
    page.fill("#input-opinion", "材料齐全，予以受理")
    page.click("#submit-button")
    expect(page.locator(".flash-success")).to_contain_text("「受理」已办结")
    claim_from_inbox(page, "近亲属备案核查")
    page.check("input[name=relatives_filed][value=false]")
    page.click("#submit-button")
    expect(page.locator(".flash-success")).to_contain_text("已办结")

    # The district verification centre answers the economic check (a machine, through the API).
    case = existing_case(login, case_id)
    case.economic_check(income=800.0)

    # 3. The clerk claims and completes the household survey (a draft first).
    claim_from_inbox(page, "入户调查")
    names = page.locator(".list-field[data-name=investigators] input")
    names.nth(0).fill("张伟")
    page.click("#draft-button")
    expect(page.locator(".flash-success")).to_have_text("草稿已保存")
    expect(page.locator("#draft-note")).to_be_visible()
    expect(names.nth(0)).to_have_value("张伟")
    names.nth(1).fill("王丽")
    # The income table: a wage, and (a second row added on the page) a study grant that is not counted.
    page.select_option("select[name='income_items-0-type']", "wage")
    page.fill("input[name='income_items-0-amount']", "800")
    page.click(".add-row[data-prefix=income_items]")
    page.select_option("select[name='income_items-1-type']", "scholarship")
    page.fill("input[name='income_items-1-amount']", "150")
    page.fill("#input-findings", "入户核实：申请人患慢性病，部分丧失劳动能力，子女在读小学。")
    page.fill("#input-visited_on", "2026-03-03")
    screenshot(page, "task-survey")
    page.click("#submit-button")
    expect(page.locator(".flash-success")).to_contain_text("「入户调查」已办结")
    screenshot(page, "inbox-after-survey")
    logout(page)

    # The community runs the democratic appraisal (through the API, as in the scenario tests).
    case.appraise()

    # 4. The street reviewer rejects without an opinion, sees the field error, then rejects with one.
    browser_login(page, "jd_heping_lead")
    claim_from_inbox(page, "街道审核")
    page.check("input[name=decision][value=reject]")
    page.click("#submit-button")
    expect(page.locator("[data-error-for=opinion]")).to_have_text("不同意时必须填写意见")
    expect(page.locator("#field-opinion")).to_have_class(re.compile("has-error"))
    screenshot(page, "task-reject-without-opinion")
    page.fill("#input-opinion", "经核对，家庭存款及收入情况与申报不符，不同意上报")
    page.click("#submit-button")
    expect(page.locator(".flash-success")).to_contain_text("「街道审核」已办结")

    # 5. The case page shows the diagram with the right elements highlighted and the holder on the active step.
    page.goto(f"/cases/{case_id}")
    diagram = page.locator("#diagram[data-rendered=true]")
    expect(diagram).to_be_visible(timeout=15_000)
    for element in ("accept", "relatives_check", "household_survey", "wait_economic_check", "appraisal",
                    "street_review", "street_review_decision"):
        expect(page.locator(f".djs-element.hl-completed[data-element-id={element}]")).to_have_count(1)
    expect(page.locator(".djs-element.hl-active[data-element-id=refusal_notice]")).to_have_count(1)
    for element in ("notice", "approval", "payment_setup"):
        expect(page.locator(f".djs-element[data-element-id={element}].hl-completed")).to_have_count(0)
        expect(page.locator(f".djs-element[data-element-id={element}].hl-active")).to_have_count(0)
    expect(page.locator(".diagram-holder")).to_have_text("待认领（街道经办人）")
    expect(page.locator("#history")).to_contain_text("经核对，家庭存款及收入情况与申报不符，不同意上报")
    expect(page.locator("#history")).to_contain_text("不同意")
    screenshot(page, "case-diagram")
    page.set_viewport_size({"width": 820, "height": 1180})
    page.reload()
    expect(page.locator("#diagram[data-rendered=true]")).to_be_visible(timeout=15_000)
    screenshot(page, "case-tablet")

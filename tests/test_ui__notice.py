"""The public notice (公示): masked names, no ID numbers or incomes, objections through a CSRF-protected form."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.scenario import Dibao, advance
from tests.ui_pages import PageClient, csrf_token
from workflows.models import Case, Jurisdiction


def _community_id(app, name="和平里社区") -> int:
    from web.extensions import db

    with app.app_context():
        return db.session.scalars(select(Jurisdiction.id).where(Jurisdiction.name == name)).one()


def _in_notice(login, name="欧阳小明", **kwargs) -> Dibao:
    case = Dibao(login, name=name, **kwargs)
    case.through_street()
    assert case.case()["stage"] == "公示中"
    return case


def _secrets(app, case_id) -> list[str]:
    from web.extensions import db

    with app.app_context():
        case = db.session.get(Case, case_id)
        numbers = [m["id_number"] for m in case.household["members"]]
        masked = [n[:6] for n in numbers] + [n[-4:] for n in numbers]
        return numbers + masked + [case.applicant_phone, case.applicant_name]


def test_ui__notice_shows_masked_names_and_no_id_or_income(app, login, client):
    case = _in_notice(login, income=812.5)
    other = Dibao(login, name="王五")  # not in notice yet: not listed
    community = _community_id(app)
    html = client.get(f"/notice/{community}").get_data(as_text=True)
    assert "欧**明" in html
    assert "2,269.00" in html or "2269" in html.replace(",", "")
    for secret in _secrets(app, case.id):
        assert secret not in html
    assert "812.5" not in html and "812.50" not in html  # no income
    assert "王*" not in html and f"/notice/cases/{other.id}/" not in html
    # Another community's board does not list it.
    assert "欧**明" not in client.get(f"/notice/{_community_id(app, '安定门社区')}").get_data(as_text=True)
    index = client.get("/notice").get_data(as_text=True)
    assert "1 户公示中" in index
    # A case outside its notice is not public at all.
    assert client.get(f"/notice/cases/{other.id}/objection").status_code == 404
    assert client.get("/notice/999999").status_code == 404


def test_ui__notice_objection_validates_and_records(app, login, client):
    case = _in_notice(login)
    path = f"/notice/cases/{case.id}/objection"
    page = client.get(path).get_data(as_text=True)
    assert "欧**明" in page
    token = csrf_token(page)
    # Without the CSRF token the form is refused.
    assert client.post(path, data={"reason": "有私家车"}).status_code == 400
    response = client.post(path, data={"reason": "", "csrf_token": token})
    assert response.status_code == 422
    assert "请说明异议的具体内容" in response.get_data(as_text=True)
    response = client.post(path, data={"reason": "邻居反映其家中有一辆私家车", "reporter": "", "contact": "",
                                       "csrf_token": token})
    assert response.status_code == 302
    body = case.case()
    assert body["objected"] is True
    assert {t["element_id"] for t in body["tasks"]} == {"reinvestigation"}
    received = [h for h in body["history"] if h["action"] == "message_received"]
    assert received[-1]["actor"] == "public"
    # Now out of notice: the form answers 404, the board no longer lists it.
    assert client.get(path).status_code == 404
    assert "欧**明" not in client.get(f"/notice/{_community_id(app)}").get_data(as_text=True)


def test_ui__notice_ends_with_the_period(app, login, client):
    _in_notice(login)
    advance(login, "P8D")
    assert "欧**明" not in client.get(f"/notice/{_community_id(app)}").get_data(as_text=True)


def test_ui__logged_in_objection_records_the_user(app, login):
    case = _in_notice(login)
    pages = PageClient(app, "sq_heping")
    response = pages.post(f"/notice/cases/{case.id}/objection", {"reason": "据反映有经营收入"})
    assert response.status_code == 302
    received = [h for h in case.case()["history"] if h["action"] == "message_received"]
    assert received[-1]["actor"] == "sq_heping"


@pytest.mark.browser
def test_ui__notice_page_in_browser(page, login, app, screenshot):
    case = _in_notice(login)
    _in_notice(login, name="赵六", members=3, income=600.0)
    page.goto("/notice")
    screenshot(page, "notice-index")
    page.click("text=和平里社区")
    expect(page.locator("table.notice-table tbody tr")).to_have_count(2)
    expect(page.locator(".notice-table")).to_contain_text("欧**明")
    content = page.content()
    for secret in _secrets(app, case.id):
        assert secret not in content
    assert not re.search(r"\d{6}\*+\d{3}[\dX]", content)  # not even a masked ID number
    screenshot(page, "notice-community")
    page.locator("tr", has_text="欧**明").locator("text=提出异议").click()
    page.click("#objection-submit")
    expect(page.locator("[data-error-for=reason]")).to_be_visible()
    page.fill("#reason", "据邻居反映，申请人家中有一辆小轿车")
    screenshot(page, "notice-objection")
    page.click("#objection-submit")
    expect(page.locator(".flash-success")).to_contain_text("您的异议已提交")
    expect(page.locator("table.notice-table tbody tr")).to_have_count(1)
    assert case.case()["objected"] is True


def test_ui__anonymous_objections_are_throttled(app, login, client):
    from web.ui import notice

    cases = [_in_notice(login) for _ in range(notice.OBJECTIONS_PER_WINDOW + 1)]
    statuses = []
    for case in cases:
        path = f"/notice/cases/{case.id}/objection"
        token = csrf_token(client.get(path).get_data(as_text=True))
        response = client.post(path, data={"reason": "反映该户有经营收入", "csrf_token": token})
        statuses.append(response.status_code)
    assert statuses == [302] * notice.OBJECTIONS_PER_WINDOW + [429]
    assert cases[-1].case()["objected"] is False  # the throttled objection changed nothing

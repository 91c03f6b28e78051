"""The public complaint page (投诉举报): no login, a CSRF-protected form, field messages, the reference number after
submitting — never the ID number — and the complaint in the household's street inbox."""
import re

import pytest
from playwright.sync_api import expect

from tests.scenario import application
from tests.ui_pages import csrf_token


def _case(login) -> tuple[int, str]:
    body = application(name="孙八")
    response = login("sq_heping").post("cases", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"], body["applicant"]["id_number"]


def test_ui__complaint_form_needs_csrf_and_validates(app, login, client):
    _case_id, number = _case(login)
    page = client.get("/complaints/new")
    assert page.status_code == 200 and "投诉举报" in page.get_data(as_text=True)
    assert client.post("/complaints/new", data={"household_id_number": number, "text": "该户有经营收入"}
                       ).status_code == 400  # no CSRF token
    token = csrf_token(page.get_data(as_text=True))
    refused = client.post("/complaints/new", data={"household_id_number": number, "text": "短", "csrf_token": token})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'data-error-for="text"' in html
    done = client.post("/complaints/new", data={"household_id_number": number, "text": "该户有经营收入，未如实申报",
                                                "csrf_token": token})
    assert done.status_code == 201
    html = done.get_data(as_text=True)
    assert "受理编号" in html and number not in html
    assert login("admin").get("complaints").get_json()["items"][0]["channel"] == "public"


@pytest.mark.browser
def test_ui__public_complaint_page_in_browser(page, login, app, screenshot):
    _case_id, number = _case(login)
    page.goto("/complaints/new")  # no login
    page.click("#complaint-submit")
    expect(page.locator("[data-error-for=text]")).to_be_visible()
    expect(page.locator("[data-error-for=household_id_number]")).to_be_visible()
    page.fill("#household_id_number", number)
    page.fill("#text", "据邻居反映，该户家中有一辆小轿车，还在市场经营摊位")
    page.fill("#reporter", "热心群众")
    screenshot(page, "complaint-new")
    page.click("#complaint-submit")
    reference = page.locator("#complaint-reference")
    expect(reference).to_have_text(re.compile(r"^TS\d{8}[0-9A-F]{8}$"))
    assert number not in page.content()
    screenshot(page, "complaint-done")
    listed = login("jd_heping").get("complaints").get_json()["items"]
    assert [c["reference"] for c in listed] == [reference.inner_text()]
    inbox = login("jd_heping").get("tasks?view=group").get_json()["items"]
    assert any(t["element_id"] == "verify" for t in inbox)


def test_ui__staff_records_and_works_a_complaint_in_pages(app, login):
    from tests.ui_pages import PageClient

    _case_id, number = _case(login)
    pages = PageClient(app, "jd_heping")
    done = pages.post("/complaints/new", {"household_id_number": number, "text": "群众来电反映该户有经营收入"})
    assert done.status_code == 201
    item = login("admin").get("complaints").get_json()["items"][0]
    assert item["channel"] == "staff" and item["received_by"] == "jd_heping"
    assert "核实受理" in pages.text("/inbox")
    tasks = login("jd_heping").get("tasks?view=group").get_json()["items"]
    task = [t for t in tasks if t["element_id"] == "verify"][0]
    pages.post(f"/tasks/{task['id']}/claim")  # the form shows to whoever holds the task
    html = pages.text(f"/tasks/{task['id']}")
    assert "举报类型" in html and "隐瞒收入" in html and number not in html
    answer = pages.post(f"/tasks/{task['id']}", {"action": "complete", "category": "income", "opinion": "受理"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert login("admin").get(f"complaints/{item['id']}").get_json()["status"] == "investigating"

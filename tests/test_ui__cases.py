"""Case list and case page without a browser: jurisdiction, filters, masked data, history, diagram state."""
import html as html_lib
import io
import json
import re

from tests.scenario import Dibao, advance, application
from tests.ui_pages import PageClient


def diagram_state(page_html: str) -> dict:
    raw = re.search(r"data-state='([^']*)'", page_html).group(1)
    return json.loads(html_lib.unescape(raw))


def test_ui__other_jurisdiction_gets_404(app, login):
    """A 安定街道 user gets 404 for a 和平街道 case page, task page and attachment download."""
    case = Dibao(login, street="和平街道")
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    login("jd_heping").post(f"tasks/{task['id']}/claim")
    upload = login("jd_heping").post(f"tasks/{task['id']}/attachments",
                                     data={"file": (io.BytesIO(b"%PDF-1.4 x"), "证明.pdf")},
                                     content_type="multipart/form-data")
    attachment = upload.get_json()["id"]
    paths = [f"/cases/{case.id}", f"/tasks/{task['id']}", f"/cases/{case.id}/attachments/{attachment}",
             f"/cases/{case.id}/diagram.bpmn"]
    for user in ("jd_anding", "jd_anding_lead", "sq_anding"):
        pages = PageClient(app, user)
        for path in paths:
            response = pages.get(path)
            assert response.status_code == 404, (user, path)
            assert "不存在" in response.get_data(as_text=True)
    for user in ("jd_heping", "jd_heping_lead", "sq_heping", "supervisor", "qu_approver"):
        pages = PageClient(app, user)
        for path in paths:
            assert pages.get(path).status_code == 200, (user, path)
    # The other community of the same street is out of the community worker's reach.
    east = login("jd_heping").post("cases", json=application("和平街道", "和平东社区")).get_json()["id"]
    assert PageClient(app, "sq_heping").get(f"/cases/{east}").status_code == 404
    assert PageClient(app, "jd_heping").get(f"/cases/{east}").status_code == 200


def test_ui__case_list_scope_filters_and_search(app, login):
    a = Dibao(login, name="张三")
    Dibao(login, name="李四")
    Dibao(login, street="安定街道", name="王五")
    a.accept()
    a.survey()
    a.economic_check()
    a.appraise()
    a.street_review(decision="reject", opinion="不符合")
    a.refusal_notice()
    clerk = PageClient(app, "jd_heping")
    html = clerk.text("/cases")
    assert "张三" in html and "李四" in html and "王五" not in html
    assert "不予批准" in html
    assert "张三" not in clerk.text("/cases?status=in_progress") and "李四" in clerk.text("/cases?status=in_progress")
    assert "李四" not in clerk.text("/cases?q=张") and "张三" in clerk.text("/cases?q=张")
    assert "李四" not in clerk.text(f"/cases?q={a.id}")
    assert 'name="street"' not in html
    district = PageClient(app, "supervisor")
    assert "王五" in district.text("/cases") and 'name="street"' in district.text("/cases")
    assert "王五" not in district.text("/cases?street=和平街道")
    assert clerk.get("/cases?status=nonsense&page=-1&program=x").status_code == 200
    assert not re.search(r"110105\d{12}", html)


def test_ui__case_page_shows_household_amounts_history(app, login):
    case = Dibao(login, name="张三", members=2, income=800.0)
    case.through_street()
    html = PageClient(app, "jd_heping_lead").text(f"/cases/{case.id}")
    assert "公示中" in html and "2,269.00" in html and "1,395.00" in html
    assert "家庭成员（2 人）" in html
    assert not re.search(r"110105\d{12}", html)  # no full ID numbers
    assert "138****0000" in html  # the phone is masked too
    assert "材料齐全" in html and "同意上报" in html  # opinions in the timeline
    assert "和平街道 刘洋（科长）" in html  # actors by name
    state = diagram_state(html)
    assert {"accept", "household_survey", "street_review", "street_review_decision"} <= set(state["completed"])
    assert state["active"] == ["notice"]  # the event-based gateway waits for the notice period or an objection
    assert state["holders"] == [] and state["overdue"] == []
    xml = PageClient(app, "jd_heping_lead").get(f"/cases/{case.id}/diagram.bpmn")
    assert xml.mimetype == "application/xml"
    text = xml.get_data(as_text=True)
    assert 'id="street_review"' in text and "compute_subsidy" not in text  # scripts stay on the server


def test_ui__diagram_state_marks_overdue_with_holder(app, login):
    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    login("jd_heping").post(f"tasks/{task['id']}/claim")
    advance(login, "P20D")
    html = PageClient(app, "supervisor").text(f"/cases/{case.id}")
    state = diagram_state(html)
    assert state["overdue"] == ["household_survey"]
    assert state["holders"][0]["label"] == "和平街道 张伟" and state["holders"][0]["overdue"] is True
    assert "wait_economic_check" in state["active"] and "accept" in state["completed"]
    assert "row-overdue" in html and "超期" in html

"""The approval operations on the staff pages (no browser): 拿回 on the task page, 委派 coming back with the
delegate's answer, 撤回 and 终止 on the case page, 我的代理人 — each the API's own service call."""
from tests.scenario import Dibao
from tests.ui_pages import PageClient, add_user, error_for


def test_ui__take_back_from_the_task_page(app, login):
    case = Dibao(login)
    case.complete("accept", "jd_heping", {"decision": "accept", "opinion": "材料齐全"})
    accept = [t for t in login("jd_heping").get(f"tasks?case_id={case.id}&view=mine&status=done").get_json()["items"]
              if t["element_id"] == "accept"][0]
    clerk = PageClient(app, "jd_heping")
    assert 'id="take-back-button"' in clerk.text(f"/tasks/{accept['id']}")
    assert 'id="take-back-button"' not in PageClient(app, "jd_heping_lead").text(f"/tasks/{accept['id']}")
    response = clerk.post(f"/tasks/{accept['id']}/take-back", {"reason": "补充受理意见"})
    assert response.status_code == 302
    html = clerk.text(response.headers["Location"])
    assert "已拿回「受理」" in html and 'id="task-form"' in html
    assert "拿回" in clerk.text(f"/cases/{case.id}")  # the history entry on the case page
    again = clerk.post(f"/tasks/{accept['id']}/take-back", {})
    assert "拿回失败" in clerk.text(again.headers["Location"])


def test_ui__delegated_task_comes_back_with_the_answer(app, login):
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    login("jd_heping").post(f"tasks/{task['id']}/claim")
    clerk = PageClient(app, "jd_heping")
    assert clerk.post(f"/tasks/{task['id']}/handover", {"kind": "delegated", "to": "jd_heping2"}).status_code == 302
    delegate = PageClient(app, "jd_heping2")
    assert "委派，办理后交还" in delegate.text(f"/tasks/{task['id']}")
    response = delegate.post(f"/tasks/{task['id']}", {"action": "complete", "decision": "accept",
                                                      "opinion": "核对无误，建议受理"})
    assert response.status_code == 302
    assert "已交还 和平街道 张伟 确认办理" in delegate.text("/inbox")
    html = clerk.text(f"/tasks/{task['id']}")
    assert 'id="delegation-note"' in html and "核对无误，建议受理" in html
    assert case.stage_elements() == {"accept"}


def test_ui__withdraw_and_terminate_on_the_case_page(app, login):
    case = Dibao(login)
    worker = PageClient(app, "sq_heping")
    assert 'id="withdraw-form"' in worker.text(f"/cases/{case.id}")
    assert 'id="terminate-form"' not in worker.text(f"/cases/{case.id}")
    response = worker.post(f"/cases/{case.id}/withdraw", {"reason": ""})
    assert "撤回须填写理由" in worker.text(response.headers["Location"])
    response = worker.post(f"/cases/{case.id}/withdraw", {"reason": "申请人已就业"})
    html = worker.text(response.headers["Location"])
    assert "案件已撤回" in html and "撤回申请" in html and "申请人已就业" in html
    other = Dibao(login)
    approver = PageClient(app, "qu_approver")
    assert 'id="terminate-form"' in approver.text(f"/cases/{other.id}")
    response = approver.post(f"/cases/{other.id}/terminate", {"reason": "重复申请"})
    assert "流程已终止" in approver.text(response.headers["Location"])
    assert other.case()["status"] == "closed"
    assert PageClient(app, "jd_heping").post(f"/cases/{other.id}/terminate", {"reason": "x"}).status_code == 302
    assert other.case()["status"] == "closed"


def test_ui__substitute_page(app, login):
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    clerk = PageClient(app, "jd_heping")
    html = clerk.text("/me/substitute")
    assert "和平街道 王强" in html and "安定街道 陈静" not in html
    response = clerk.post("/me/substitute", {"user": "jd_heping2", "from": "2026-03-06", "to": "2026-03-02"})
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "substitute-to") == ["结束日期不能早于开始日期"]
    response = clerk.post("/me/substitute", {"user": "jd_heping2", "from": "2026-03-02", "to": "2026-03-06"})
    assert response.status_code == 302
    assert "已设置代理人：jd_heping2" in clerk.text("/me/substitute")
    assert "我代理的同事" in PageClient(app, "jd_heping2").text("/me/substitute")
    response = clerk.post("/me/substitute/cancel", {})
    assert "已结束 1 项代理" in clerk.text(response.headers["Location"])

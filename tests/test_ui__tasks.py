"""The task page without a browser: forms and their errors, drafts, stale pages, 退回, 转办/委派, 抄送, comments,
attachments, the household table, and jurisdiction."""
import io
import re

from sqlalchemy import select

from tests.scenario import Dibao, id_number
from tests.ui_pages import PageClient, add_user, error_for
from workflows.models import Case, CaseCopy, TaskDraft

SURVEY = {"investigators": ["张伟", "王丽"], "income_items-0-type": "wage", "income_items-0-amount": "800", "findings": "属实",
          "visited_on": "2026-03-03"}


def survey_task(login, app=None, claim=True):
    case = Dibao(login)
    case.accept()
    task = case.open_task("household_survey", "jd_heping")
    if claim:
        login("jd_heping").post(f"tasks/{task['id']}/claim")
    return case, task


def members_form(case_body: dict, extra: list[dict] | None = None) -> dict:
    """The household table as the page posts it: existing members keep their masked numbers."""
    form = {}
    for i, m in enumerate(case_body["household"]["members"]):
        form.update({f"members-{i}-key": str(i), f"members-{i}-name": m["name"],
                     f"members-{i}-relation": m["relation"], f"members-{i}-id_number": m["id_number"],
                     f"members-{i}-birth_date": m["birth_date"], f"members-{i}-work_capacity": m["work_capacity"]})
    for j, m in enumerate(extra or [], start=len(case_body["household"]["members"])):
        form.update({f"members-{j}-{k}": v for k, v in m.items()})
    return form


def test_ui__task_page_needs_the_jurisdiction(app, login):
    case, task = survey_task(login)
    other = PageClient(app, "jd_anding")
    for path in (f"/tasks/{task['id']}", f"/cases/{case.id}", f"/cases/{case.id}/diagram.bpmn"):
        assert other.get(path).status_code == 404, path
    for action in ("", "/claim", "/return", "/handover", "/copy", "/comment", "/attachments"):
        assert other.post(f"/tasks/{task['id']}{action}", {"action": "complete"}).status_code == 404, action
    html = PageClient(app, "jd_heping").text(f"/tasks/{task['id']}")
    assert "入户调查" in html and "调查人员" in html and "收入明细" in html and "奖学金、助学金" in html
    assert "参加入户调查的工作人员姓名，不少于 2 人" in html  # help text from the schema


def test_ui__form_errors_next_to_fields_then_complete(app, login):
    case, task = survey_task(login)
    clerk = PageClient(app, "jd_heping")
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", "investigators": ["张伟"],
                                                   "income_items-0-type": "wage", "income_items-0-amount": "-5",
                                                   "visited_on": "3月3日",
                                                   **members_form(case.case())})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_for(html, "investigators") == ["调查人员不少于 2 人"]
    assert error_for(html, "income_items-0-amount") == ["不能为负数"]
    assert error_for(html, "visited_on") == ["日期格式应为 YYYY-MM-DD"]
    assert 'value="张伟"' in html and 'value="-5"' in html  # what was typed comes back
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", "income_items-3-type": "wage",
                                                   "income_items-3-amount": "abc",
                                                   **members_form(case.case())})
    # Rows are numbered as shown again: the first non-blank row is row 0.
    assert error_for(response.get_data(as_text=True), "income_items-0-amount") == ["应为数字"]
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", **SURVEY, **members_form(case.case())})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    assert "「入户调查」已办结" in clerk.text("/inbox")
    assert case.case()["stage"] == "等待家庭经济状况核对结果"


def test_ui__stale_page_says_what_happened(app, login):
    case, task = survey_task(login)
    clerk = PageClient(app, "jd_heping")
    assert clerk.get(f"/tasks/{task['id']}").status_code == 200
    case.survey()  # completed elsewhere (the API) while the page was open
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", **SURVEY, **members_form(case.case())})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "由 和平街道 张伟 办结" in html and "您本次提交的内容未保存" in html
    assert 'id="task-form"' not in html
    # The same for a draft, a return and a claim.
    assert clerk.post(f"/tasks/{task['id']}", {"action": "draft"}).status_code == 409
    assert clerk.post(f"/tasks/{task['id']}/return", {"to": "accept", "reason": "x"}).status_code == 409
    clerk.post(f"/tasks/{task['id']}/claim")
    assert "认领失败：该任务已于" in clerk.text(f"/tasks/{task['id']}")
    # A closed task's page shows what was submitted.
    html = clerk.text(f"/tasks/{task['id']}")
    assert "张伟、李强" in html and "已办结" in html


def test_ui__claim_required_and_taken_by_someone_else(app, login):
    _case, task = survey_task(login, claim=False)
    clerk = PageClient(app, "jd_heping")
    html = clerk.text(f"/tasks/{task['id']}")
    assert "认领并办理" in html and 'id="task-form"' not in html
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", **SURVEY})
    assert response.status_code == 409 and "请先认领该任务" in response.get_data(as_text=True)
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    PageClient(app, "jd_heping2").post(f"/tasks/{task['id']}/claim")
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", **SURVEY})
    assert response.status_code == 409 and "已由 和平街道 王强 认领" in response.get_data(as_text=True)
    # The reviewer may look but not act.
    reviewer = PageClient(app, "jd_heping_lead")
    assert reviewer.get(f"/tasks/{task['id']}").status_code == 200
    assert reviewer.post(f"/tasks/{task['id']}/return", {"to": "accept", "reason": "x"}).status_code == 409


def test_ui__draft_is_kept_and_dropped_on_completion(app, login):
    case, task = survey_task(login)
    clerk = PageClient(app, "jd_heping")
    response = clerk.post(f"/tasks/{task['id']}", {"action": "draft", "investigators": ["张伟", ""],
                                                   "income_items-0-type": "wage", "income_items-0-amount": "abc",
                                                   **members_form(case.case())})
    assert response.status_code == 302
    html = clerk.text(f"/tasks/{task['id']}")
    assert "已载入 和平街道 张伟" in html and 'value="abc"' in html and 'value="张伟"' in html
    api = login("jd_heping").get(f"tasks/{task['id']}/draft").get_json()
    assert api["data"]["income_items"] == [{"type": "wage", "amount": "abc", "member": "", "note": ""}]
    assert api["saved_by"] == "jd_heping"
    clerk.post(f"/tasks/{task['id']}", {"action": "complete", **SURVEY, **members_form(case.case())})
    with app.app_context():
        from web.extensions import db

        assert db.session.get(TaskDraft, task["id"]) is None


def test_ui__draft_api_parity(app, login):
    _case, task = survey_task(login)
    clerk = login("jd_heping")
    assert clerk.get(f"tasks/{task['id']}/draft").get_json()["data"] is None
    response = clerk._call("put", f"tasks/{task['id']}/draft", json={"data": {"findings": "半成品"}})
    assert response.status_code == 200 and response.get_json()["data"] == {"findings": "半成品"}
    assert "半成品" in PageClient(app, "jd_heping").text(f"/tasks/{task['id']}")
    too_big = {"findings": "长" * 70_000}
    assert clerk._call("put", f"tasks/{task['id']}/draft", json={"data": too_big}).status_code == 422
    assert login("jd_heping_lead")._call("put", f"tasks/{task['id']}/draft",
                                         json={"data": {}}).status_code == 409
    assert clerk._call("delete", f"tasks/{task['id']}/draft").status_code == 204
    assert clerk.get(f"tasks/{task['id']}/draft").get_json()["data"] is None


def test_ui__household_table_corrects_the_members(app, login):
    case, task = survey_task(login)
    clerk = PageClient(app, "jd_heping")
    body = case.case()
    with app.app_context():
        from web.extensions import db

        original = db.session.get(Case, case.id).household["members"]
    html = clerk.text(f"/tasks/{task['id']}")
    assert body["household"]["members"][0]["id_number"] in html  # masked, as every page
    assert original[0]["id_number"] not in html
    newborn = id_number("20250101", serial=777)
    bad = {"name": "张小小", "relation": "子女", "id_number": newborn[:-1] + "0" if newborn[-1] != "0" else "1",
           "work_capacity": "none"}
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", **SURVEY,
                                                   **members_form(body, [bad])})
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "members-2-id_number") == ["身份证号校验码不正确，请核对是否输错"]
    good = dict(bad, id_number=newborn)
    response = clerk.post(f"/tasks/{task['id']}", {"action": "complete", **SURVEY, **members_form(body, [good])})
    assert response.status_code == 302, response.get_data(as_text=True)
    after = case.case()
    assert after["household_size"] == 3
    assert after["household"]["members"][2]["birth_date"] == "2025-01-01"  # taken from the ID number
    with app.app_context():
        from web.extensions import db

        stored = db.session.get(Case, case.id).household["members"]
        # The masked numbers the page showed stood for the stored ones: they are kept, not overwritten.
        assert stored[0]["id_number"] == original[0]["id_number"] and "*" not in stored[1]["id_number"]
        assert stored[2]["id_number"] == newborn
    assert any(h["action"] == "household_updated" for h in after["history"])
    # The corrected household is what the amount is computed from: 3 members.
    case.economic_check(income=800.0)
    case.appraise()
    assert case.case()["proposed_amount"] == round((1395 - 800 / 3) * 3 + 2 * 279, 2)


def test_ui__return_from_the_page(app, login):
    case, _task = survey_task(login)
    case.survey()
    case.economic_check()
    case.appraise()
    review = case.open_task("street_review", "jd_heping_lead")
    reviewer = PageClient(app, "jd_heping_lead")
    reviewer.post(f"/tasks/{review['id']}/claim")
    html = reviewer.text(f"/tasks/{review['id']}")
    assert re.search(r'<option value="household_survey"\s*>入户调查</option>', html)
    response = reviewer.post(f"/tasks/{review['id']}/return", {"to": "household_survey", "reason": " "})
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "return-reason") == ["退回须填写理由"]
    response = reviewer.post(f"/tasks/{review['id']}/return", {"to": "approval", "reason": "x"})
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "return-to") == ["只能退回到本流程中已办理过的前序环节"]
    response = reviewer.post(f"/tasks/{review['id']}/return", {"to": "household_survey",
                                                               "reason": "收入核实不充分"})
    assert response.status_code == 302
    assert "已将「街道审核」退回到「入户调查」，由 和平街道 张伟 重新办理" in reviewer.text("/inbox")
    # Back on the clerk's desk, prefilled with what was submitted last time.
    survey = case.open_task("household_survey", "jd_heping")
    html = PageClient(app, "jd_heping").text(f"/tasks/{survey['id']}")
    assert "该环节曾被退回" in html and 'value="李强"' in html
    assert "收入核实不充分" in html  # the reason is among the opinions
    assert "已退回" in reviewer.text("/inbox?tab=done")


def test_ui__transfer_and_delegate_write_copies(app, login):
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    case, task = survey_task(login)
    clerk = PageClient(app, "jd_heping")
    html = clerk.text(f"/tasks/{task['id']}")
    assert "和平街道 王强" in html and "安定街道 陈静" not in html  # same role and jurisdiction only
    response = clerk.post(f"/tasks/{task['id']}/handover", {"kind": "transferred", "to": ""})
    assert error_for(response.get_data(as_text=True), "handover-to") == ["请选择接收人"]
    response = clerk.post(f"/tasks/{task['id']}/handover", {"kind": "transferred", "to": "jd_anding"})
    assert error_for(response.get_data(as_text=True), "handover-to") == ["岗位或辖区不符"]
    response = clerk.post(f"/tasks/{task['id']}/handover", {"kind": "delegated", "to": "jd_heping2",
                                                             "reason": "本人下社区"})
    assert response.status_code == 302
    assert case.open_task("household_survey", "jd_heping2")["assignee"] == "jd_heping2"
    copied = clerk.text("/inbox?tab=copied")
    assert "委派" in copied and "已委派给 和平街道 王强：本人下社区" in copied and "未读" in copied
    # The delegate hands it on by transfer; the delegate now follows it too.
    second = PageClient(app, "jd_heping2")
    assert second.post(f"/tasks/{task['id']}/handover", {"kind": "transferred", "to": "jd_heping"}).status_code == 302
    assert "转办" in second.text("/inbox?tab=copied")
    history = [h["action"] for h in case.case()["history"]]
    assert "task_delegated" in history and "task_transferred" in history
    # Reading the case marks the copy read.
    clerk.text(f"/cases/{case.id}")
    assert "未读" not in clerk.text("/inbox?tab=copied")


def test_ui__copy_to_colleagues(app, login):
    case, task = survey_task(login)
    clerk = PageClient(app, "jd_heping")
    html = clerk.text(f"/tasks/{task['id']}")
    assert 'value="qu_inspector"' in html and 'value="jd_anding"' not in html
    response = clerk.post(f"/tasks/{task['id']}/copy", {"to": []})
    assert error_for(response.get_data(as_text=True), "copy-to") == ["请选择至少一位抄送人"]
    response = clerk.post(f"/tasks/{task['id']}/copy", {"to": ["jd_anding"]})
    assert error_for(response.get_data(as_text=True), "copy-to") == ["不能抄送给：jd_anding"]
    response = clerk.post(f"/tasks/{task['id']}/copy", {"to": ["jd_heping_lead", "qu_inspector"],
                                                        "note": "申请人家庭情况特殊，请关注"})
    assert response.status_code == 302
    for user in ("jd_heping_lead", "qu_inspector"):
        html = PageClient(app, user).text("/inbox?tab=copied")
        assert "申请人家庭情况特殊，请关注" in html and f"/cases/{case.id}" in html
        assert 'class="count">1<' in html
    assert "暂无抄送给您的案件" in PageClient(app, "jd_anding").text("/inbox?tab=copied")
    with app.app_context():
        from web.extensions import db

        assert len(db.session.scalars(select(CaseCopy).where(CaseCopy.reason == "copied")).all()) == 2
    # API parity
    response = login("jd_heping").post(f"tasks/{task['id']}/copies", json={"to": ["supervisor"], "note": "督办"})
    assert response.status_code == 201 and response.get_json()["items"][0]["recipient"] == "supervisor"


def test_ui__comments(app, login):
    case, task = survey_task(login)
    reviewer = PageClient(app, "jd_heping_lead")  # anyone who may see the task may comment
    response = reviewer.post(f"/tasks/{task['id']}/comment", {"text": "  "})
    assert error_for(response.get_data(as_text=True), "comment-text") == ["请填写评论内容"]
    assert reviewer.post(f"/tasks/{task['id']}/comment", {"text": "请重点核实存款"}).status_code == 302
    assert "请重点核实存款" in PageClient(app, "jd_heping").text(f"/tasks/{task['id']}")
    assert any(h["action"] == "comment" for h in case.case()["history"])


def test_ui__attachments_on_the_page(app, login):
    case, task = survey_task(login)
    clerk = PageClient(app, "jd_heping")

    def send(content, name):
        return clerk.post(f"/tasks/{task['id']}/attachments", {"file": (io.BytesIO(content), name)},
                          content_type="multipart/form-data")

    response = send(b"MZ\x90\x00", "病历.exe")
    assert response.status_code == 422
    assert "不支持的文件类型" in error_for(response.get_data(as_text=True), "attachment-file")[0]
    response = send(b"not a pdf at all", "病历.pdf")
    assert "内容与扩展名不符" in error_for(response.get_data(as_text=True), "attachment-file")[0]
    response = send(b"%PDF-1.7\n" + b"0" * (10 * 1024 + 100) * 1024, "大文件.pdf")
    assert "不能超过 10 MB" in error_for(response.get_data(as_text=True), "attachment-file")[0]
    response = send(b"%PDF-1.7\n" + b"0" * 17 * 1024 * 1024, "超大.pdf")  # over the request limit
    assert response.status_code == 302
    assert "文件过大" in clerk.text(f"/tasks/{task['id']}")
    assert send(b"", "").status_code == 422
    response = send(b"%PDF-1.7\nhello", "病历<1>.pdf")
    assert response.status_code == 302
    html = clerk.text(f"/cases/{case.id}")
    assert "病历_1_.pdf" in html
    attachment_id = int(html.split(f"/cases/{case.id}/attachments/", 1)[1].split('"', 1)[0])
    path = f"/cases/{case.id}/attachments/{attachment_id}"
    download = clerk.get(path)
    assert download.status_code == 200 and download.data == b"%PDF-1.7\nhello"
    assert PageClient(app, "supervisor").get(path).status_code == 200
    assert PageClient(app, "jd_anding").get(path).status_code == 404
    assert PageClient(app, "sq_anding").get(path).status_code == 404
    # The id of another case's attachment under this case's URL is not found either.
    other = Dibao(login, street="安定街道")
    assert PageClient(app, "jd_anding").get(f"/cases/{other.id}/attachments/{attachment_id}").status_code == 404

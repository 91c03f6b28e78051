"""The task page's 加签 / 减签 / 签批 panel (pages without a browser): the holder adds and removes signers, a signer
signs with an opinion, errors stand next to their field."""
from tests.bpmn_samples import countersign_task, form_task
from tests.test_api__signers import deploy, open_tasks, start, task
from tests.ui_pages import PageClient, error_for


def test_ui_signers__holder_adds_and_removes_a_signer_who_then_cannot_sign(app, login):
    deploy(login, form_task("plain_sign_ui", "review", "审核"))
    task_id = open_tasks(login, start(login, "plain_sign_ui"))["visit"]["id"]
    holder = PageClient(app, "jd_heping")
    holder.post(f"/tasks/{task_id}/claim")
    assert 'id="add-signers-form"' in holder.text(f"/tasks/{task_id}")
    bad = holder.post(f"/tasks/{task_id}/add-signers", {"users": "jd_heping,ghost", "where": "before"})
    assert bad.status_code == 422
    assert any("ghost" in m for m in error_for(bad.get_data(as_text=True), "signers-users"))
    added = holder.post(f"/tasks/{task_id}/add-signers", {"users": "jd_heping_lead，qu_inspector", "where": "before"})
    assert added.status_code == 302
    page = holder.text(f"/tasks/{task_id}")
    assert 'data-signer="jd_heping_lead" data-status="pending"' in page and "前加签" in page
    assert holder.post(f"/tasks/{task_id}/remove-signer", {"user": "qu_inspector"}).status_code == 302
    assert 'data-signer="qu_inspector" data-status="removed"' in holder.text(f"/tasks/{task_id}")
    # The remaining signer signs on the page; a rejection needs an opinion.
    signer = PageClient(app, "jd_heping_lead")
    assert 'id="sign-form"' in signer.text(f"/tasks/{task_id}")
    refused = signer.post(f"/tasks/{task_id}/sign", {"decision": "reject", "opinion": ""})
    assert refused.status_code == 422 and error_for(refused.get_data(as_text=True), "sign-opinion")
    assert signer.post(f"/tasks/{task_id}/sign", {"decision": "agree", "opinion": "同意"}).status_code == 302
    assert [s["status"] for s in task(login, task_id)["signers"]] == ["agreed", "removed"]
    assert 'id="sign-form"' not in signer.text(f"/tasks/{task_id}")


def test_ui_signers__countersign_page_shows_the_signers_and_completes(app, login):
    deploy(login, countersign_task("sign_ui", "any", "qu_inspector,qu_approver"))
    instance_id = start(login, "sign_ui")
    task_id = open_tasks(login, instance_id)["countersign"]["id"]
    holder = PageClient(app, "jd_heping")
    holder.post(f"/tasks/{task_id}/claim")
    page = holder.text(f"/tasks/{task_id}")
    assert "或签" in page and 'id="add-signers-form"' not in page  # the diagram names the signers
    signer = PageClient(app, "qu_approver")
    assert signer.post(f"/tasks/{task_id}/sign", {"decision": "agree"}).status_code == 302
    assert task(login, task_id)["status"] == "completed"
    assert set(open_tasks(login, instance_id)) == {"passed"}

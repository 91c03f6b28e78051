"""`/api/v1/forms`: both kinds of task form listed and served, designed forms saved by key with versions (who may,
what is refused and how), deploy refusing a diagram whose task names a missing form, and a designed form's task
served and validated through `/tasks`."""
from __future__ import annotations

from tests.bpmn_samples import form_task

XML = {"Content-Type": "application/xml"}

SCHEMA = {"type": "default", "id": "Form_visit", "components": [
    {"type": "textfield", "key": "visitor", "label": "走访人", "validate": {"required": True, "maxLength": 20}},
    {"type": "number", "key": "amount", "label": "核定金额", "validate": {"required": True, "min": 0, "max": 5000}},
]}


def _save(login, key="visit_record", schema=None, name=None, user="designer"):
    body = {"key": key, "schema": schema or SCHEMA}
    if name is not None:
        body["name"] = name
    return login(user).post("forms", json=body)


def test_forms__saving_makes_versions_only_when_changed(login):
    created = _save(login, name="走访登记")
    assert created.status_code == 201
    assert created.get_json() == {"key": "visit_record", "version": 1, "name": "走访登记", "created": True}
    same = _save(login)  # no name: keeps the last one
    assert same.status_code == 200 and same.get_json()["version"] == 1
    changed = _save(login, schema={**SCHEMA, "components": SCHEMA["components"][:1]})
    assert changed.status_code == 201 and changed.get_json()["version"] == 2
    renamed = _save(login, schema={**SCHEMA, "components": SCHEMA["components"][:1]}, name="入户走访")
    assert renamed.status_code == 201 and renamed.get_json()["version"] == 3

    designer = login("designer")
    latest = designer.get("forms/visit_record").get_json()
    assert latest["version"] == 3 and latest["name"] == "入户走访" and latest["kind"] == "designed"
    assert latest["versions"] == [1, 2, 3] and latest["created_by"] == "designer"
    first = designer.get("forms/visit_record?version=1").get_json()
    assert first["schema"] == SCHEMA and first["name"] == "走访登记"
    assert designer.get("forms/visit_record?version=9").status_code == 404
    assert designer.get("forms/visit_record?version=abc").status_code == 422
    assert designer.get("forms/visit_record?version=99999999999999999999").status_code == 422
    assert designer.get("forms/nothing_here").status_code == 404


def test_forms__the_list_has_both_kinds(login):
    _save(login, name="走访登记")
    items = login("jd_heping").get("forms").get_json()["items"]
    kinds = {item["key"]: item for item in items}
    assert kinds["review"]["kind"] == "registered" and kinds["review"]["title"]
    assert kinds["visit_record"] == {"key": "visit_record", "kind": "designed", "name": "走访登记", "version": 1,
                                     "created_by": "designer", "created_at": kinds["visit_record"]["created_at"]}
    registered = login("jd_heping").get("forms/review").get_json()
    assert registered["kind"] == "registered" and "decision" in registered["schema"]["properties"]


def test_forms__only_designers_save_and_everyone_must_log_in(login, client):
    refused = _save(login, user="jd_heping")
    assert refused.status_code == 403
    assert client.get("/api/v1/forms").status_code == 401
    assert client.post("/api/v1/forms", json={"key": "x", "schema": SCHEMA}).status_code == 401
    assert _save(login, user="admin").status_code == 201


def test_forms__refusals_name_the_field(login):
    taken = _save(login, key="review")
    assert taken.status_code == 422
    assert "内置表单" in taken.get_json()["error"]["fields"]["key"][0]
    bad_key = _save(login, key="9 lives")
    assert list(bad_key.get_json()["error"]["fields"]) == ["key"]
    missing = login("designer").post("forms", json={"key": "visit_record"})
    assert missing.status_code == 422 and missing.get_json()["error"]["fields"] == {"schema": ["此项为必填项"]}
    not_object = login("designer").post("forms", json={"key": "visit_record", "schema": [1, 2]})
    assert not_object.status_code == 422 and "schema" in not_object.get_json()["error"]["fields"]
    bad = _save(login, schema={"components": [
        {"type": "textfield", "key": "visitor", "label": "走访人", "conditional": {"hide": "=date(x) > 1"}},
        {"type": "filepicker", "key": "file", "label": "附件"}]})
    assert bad.status_code == 422
    problems = bad.get_json()["error"]["fields"]["schema"]
    assert problems[0].startswith("第 1 个组件（走访人）：隐藏条件")
    assert problems[1].startswith("第 2 个组件（附件）：不支持“filepicker”类组件")
    huge = _save(login, schema={"components": [{"type": "textfield", "key": f"f{i}"} for i in range(201)]})
    assert huge.get_json()["error"]["fields"]["schema"] == ["组件不能超过 200 个"]
    assert login("designer").get("forms/visit_record").status_code == 404  # nothing was stored


def test_forms__deploy_refuses_a_task_naming_a_missing_form(login):
    designer = login("designer")
    refused = designer.post("process-definitions", data=form_task("visit_demo", "visit_record"), headers=XML)
    assert refused.status_code == 422
    problems = refused.get_json()["error"]["problems"]
    assert {"element_id": "visit", "message": "表单 visit_record 不存在"} in problems
    checked = designer.post("process-definitions/validate", data=form_task("visit_demo", "visit_record"),
                            headers=XML).get_json()
    assert not checked["valid"] and checked["problems"][0]["element_id"] == "visit"

    _save(login)
    assert designer.post("process-definitions", data=form_task("visit_demo", "visit_record"),
                         headers=XML).status_code == 201


def test_forms__a_designed_task_is_served_and_validated(login):
    _save(login, name="走访登记")
    designer = login("designer")
    assert designer.post("process-definitions", data=form_task("visit_demo", "visit_record"),
                         headers=XML).status_code == 201
    clerk = login("jd_heping")
    task_id = clerk.post("process-instances", json={"process_key": "visit_demo"}).get_json()["tasks"][0]["id"]

    form = clerk.get(f"tasks/{task_id}").get_json()["form"]
    assert {k: form[k] for k in ("key", "kind", "version", "name")} == {
        "key": "visit_record", "kind": "designed", "version": 1, "name": "走访登记"}
    assert form["schema"] == SCHEMA
    assert form["json_schema"]["required"] == ["visitor", "amount"]
    assert form["json_schema"]["properties"]["amount"]["maximum"] == 5000

    assert clerk.post(f"tasks/{task_id}/claim").status_code == 200
    refused = clerk.post(f"tasks/{task_id}/complete", json={"data": {"visitor": "", "amount": 9000}})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"visitor": ["此项为必填项"], "amount": ["不能大于 5000"]}
    done = clerk.post(f"tasks/{task_id}/complete", json={"data": {"visitor": "王五", "amount": 4999, "x": 1}})
    assert done.status_code == 200, done.get_json()
    data = clerk.get(f"tasks/{task_id}").get_json()["data"]
    assert data["visitor"] == "王五" and data["amount"] == 4999 and "x" not in data

    # A registered form's task answers as before, marked as registered.
    assert designer.post("process-definitions", data=form_task("review_demo", "review"), headers=XML).status_code == 201
    other = clerk.post("process-instances", json={"process_key": "review_demo"}).get_json()["tasks"][0]["id"]
    form = clerk.get(f"tasks/{other}").get_json()["form"]
    assert form["kind"] == "registered" and form["key"] == "review" and "decision" in form["schema"]["properties"]

"""Hostile input: lone surrogates, oversized fields and bodies, huge diagrams — a clear 4xx, never a 500."""
from __future__ import annotations

import json

from tests.scenario import Dibao, application

SURROGATE = "\ud800"


def _raw_json(value) -> bytes:
    # json.dumps escapes a lone surrogate as \ud800, which is exactly what a hostile client sends.
    return json.dumps(value).encode("ascii")


def _post(client, path, value, headers=None):
    return client.post(path, data=_raw_json(value), content_type="application/json", headers=headers or {})


def _assert_field_error(response, field):
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    return error


# -- 4. lone surrogates --------------------------------------------------------------------------------------------

def test_surrogate__token_names_the_field(client):
    response = _post(client, "/api/v1/auth/token", {"username": SURROGATE, "password": "demo"})
    error = _assert_field_error(response, "username")
    assert error["fields"]["username"] == ["应为有效的 UTF-8 文本"]


def test_surrogate__in_a_key_and_deep_in_a_case(login):
    clerk = login("sq_heping")
    body = application()
    body["household"]["members"][1]["name"] = "李" + SURROGATE
    response = _post(clerk.client, "/api/v1/cases", body, clerk.headers)
    _assert_field_error(response, "household.members.1.name")
    body = application()
    body["household"]["assets"] = {SURROGATE: 1}
    response = _post(clerk.client, "/api/v1/cases", body, clerk.headers)
    _assert_field_error(response, "household.assets")


def test_surrogate__comment_and_complete(login):
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    clerk = login("jd_heping")
    response = _post(clerk.client, f"/api/v1/tasks/{task['id']}/comments", {"text": SURROGATE}, clerk.headers)
    _assert_field_error(response, "text")
    response = _post(clerk.client, f"/api/v1/tasks/{task['id']}/complete",
                     {"data": {"decision": "reject", "opinion": SURROGATE}}, clerk.headers)
    _assert_field_error(response, "data.opinion")
    # Nothing happened: the task is still open.
    assert clerk.get(f"tasks/{task['id']}").get_json()["status"] == "open"


def test_surrogate__raw_bytes_of_a_surrogate_in_json(client):
    # UTF-8 bytes of a surrogate (ED A0 80) are not UTF-8; Python's JSON decoder lets them through as \ud800.
    response = client.post("/api/v1/auth/token", data=b'{"username": "\xed\xa0\x80", "password": "x"}',
                           content_type="application/json")
    _assert_field_error(response, "username")


def test_surrogate__page_login_form_is_not_a_500(client):
    from tests.ui_pages import csrf_token

    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data=f"username=%ED%A0%80&password=demo&csrf_token={token}".encode(),
                           content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500, response.status_code
    response = client.post("/login", data=f"username=ad%ED%A0%80min&password=%ED%A0%80&csrf_token={token}".encode(),
                           content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500, response.status_code


def test_surrogate__query_string_is_not_a_500(login):
    clerk = login("jd_heping")
    response = clerk.get("tasks?view=%ED%A0%80")
    assert 400 <= response.status_code < 500


# -- 8. unbounded inputs -------------------------------------------------------------------------------------------

def test_limits__megabyte_opinion_is_refused_and_nothing_stored(login):
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    clerk = login("jd_heping")
    response = clerk.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "reject", "opinion": "理" * 2001}})
    error = _assert_field_error(response, "opinion")
    assert error["fields"]["opinion"] == ["长度不能超过 2000"]
    assert clerk.get(f"tasks/{task['id']}").get_json()["status"] == "open"
    assert "理" * 100 not in json.dumps(case.case(), ensure_ascii=False)


def test_limits__every_free_text_form_field_is_bounded():
    from workflows.forms import FORMS, json_schema

    for key in FORMS:
        for name, prop in json_schema(key)["properties"].items():
            types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
            if "string" in types and "enum" not in prop and prop.get("format") != "date":
                assert prop.get("maxLength") or prop.get("pattern"), (key, name)
            if "array" in types:
                assert prop.get("maxItems"), (key, name)
                items = prop["items"]
                if items.get("type") == "object":  # a table (income items): each text column is bounded
                    for column, sub in items["properties"].items():
                        if sub.get("type") == "string" and "enum" not in sub:
                            assert sub.get("maxLength") or sub.get("pattern"), (key, name, column)
                else:
                    assert items.get("maxLength"), (key, name)


def test_limits__task_data_over_64_kb_is_refused():
    from workflows.forms import FormError, validate_form

    validate_form("generic", {"x": "a" * 60_000})
    try:
        validate_form("generic", {"x": "a" * 70_000})
    except FormError as exc:
        assert exc.fields == {"_schema": ["表单数据过大：不能超过 64 KB"]}
    else:
        raise AssertionError("70 KB of task data was accepted")


def test_limits__household_assets_are_bounded(login):
    clerk = login("sq_heping")
    for assets, message in (({f"item{i}": 1 for i in range(51)}, "项目不能超过 50 个"),
                            ({"note": "x" * 2001}, "长度不能超过 2000"),
                            ({f"k{i}": "y" * 1900 for i in range(10)}, "内容过大：不能超过 16 KB"),
                            ({"x" * 51: 1}, "项目名称")):
        body = application()
        body["household"]["assets"] = assets
        response = clerk.post("cases", json=body)
        assert response.status_code == 422, response.get_json()
        assert message in json.dumps(response.get_json()["error"]["fields"]["household"]["assets"],
                                     ensure_ascii=False)
    body = application()
    body["street"] = "街" * 51
    response = clerk.post("cases", json=body)
    assert response.status_code == 422
    assert "street" in response.get_json()["error"]["fields"]


def test_limits__json_bodies_over_one_megabyte_are_413_in_json(login):
    clerk = login("sq_heping")
    body = application()
    body["household"]["assets"] = {"note": "x" * (3 * 1024 * 1024)}
    response = clerk.post("cases", json=body)
    assert response.status_code == 413
    assert response.get_json()["error"]["limit_bytes"] == 1024 * 1024
    response = clerk.client.post("/api/v1/auth/token", json={"username": "x" * (2 * 1024 * 1024), "password": "x"})
    assert response.status_code == 413


def _many_elements(count: int, key: str = "big") -> str:
    from tests.bpmn_samples import HEADER

    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="start" />'
            + "".join(f'<bpmn:task id="t{i}" />' for i in range(count)) + "</bpmn:process></bpmn:definitions>")


def test_limits__huge_diagram_is_refused_fast_and_briefly(login):
    import time

    designer = login("designer")
    xml = _many_elements(100_000)
    for path, status in (("process-definitions", 422), ("process-definitions/validate", 200)):
        started = time.monotonic()
        response = designer.post(path, data=xml.encode(), content_type="application/xml")
        elapsed = time.monotonic() - started
        assert response.status_code == status, response.get_data(as_text=True)[:300]
        assert elapsed < 1.0, elapsed
        assert len(response.get_data()) < 2000
        assert "上限为 5000 个" in response.get_data(as_text=True)


def test_limits__problem_lists_are_capped():
    from engine.definitions import MAX_PROBLEMS, compile_bpmn
    from engine.errors import InvalidDefinition

    try:
        compile_bpmn(_many_elements(1000))
    except InvalidDefinition as exc:
        assert len(exc.problems) == MAX_PROBLEMS + 1
        assert "另有 800 个问题未列出" in exc.problems[-1].message
        assert len(str(exc)) < 50_000
    else:
        raise AssertionError("a diagram of unconnected tasks compiled")

"""临时救助 through the API: the district's approval tiers (`GET/PUT /linshi/limits`: who may read and set them, and
per-field refusals), and the application's `details` on POST /cases."""
from __future__ import annotations

import re

from tests.scenario import linshi_application


def put(login, user, body):
    return login(user)._call("put", "linshi/limits", json=body)


def test_linshi_limits__defaults_before_any_setting(app, login):
    body = login("jd_heping").get("linshi/limits").get_json()
    assert body == {
        "district": "示范区", "configured": False, "street_multiple": "3", "joint_multiple": "10",
        "last_year_average_income": None, "dibao_standard": "1395.00", "street_limit": "4185.00",
        "joint_limit": "13950.00", "updated_by": None, "updated_at": None,
    }


def test_linshi_limits__district_approver_sets_them(app, login):
    response = put(login, "qu_approver", {"street_multiple": "2.5", "joint_multiple": 8,
                                          "last_year_average_income": "3125.50"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["configured"] is True and body["street_multiple"] == "2.5" and body["joint_multiple"] == "8"
    # 2.5 × 1395 = 3487.50; 8 × 1395 = 11160.00 — Decimal, to the fen.
    assert body["street_limit"] == "3487.50" and body["joint_limit"] == "11160.00"
    assert body["last_year_average_income"] == "3125.50" and body["updated_by"] == "qu_approver"
    # A later change of one field keeps the others.
    body = put(login, "qu_approver", {"street_multiple": 4}).get_json()
    assert (body["street_multiple"], body["joint_multiple"], body["last_year_average_income"]) == ("4", "8", "3125.50")
    assert login("jd_heping").get("linshi/limits").get_json()["street_limit"] == "5580.00"


def test_linshi_limits__only_the_district_approver_or_admin(app, login):
    for user in ("jd_heping", "jd_heping_lead", "supervisor", "mz_zhuanxiang"):
        response = put(login, user, {"street_multiple": 4})
        assert response.status_code == 403, (user, response.get_json())
    assert put(login, "qu_approver", {"district": "别的区", "street_multiple": 4}).status_code == 403
    assert login("qu_approver").get("linshi/limits?district=别的区").status_code == 403
    # An admin names the district.
    response = put(login, "admin", {"street_multiple": 4})
    assert response.status_code == 422 and "district" in response.get_json()["error"]["fields"]
    response = put(login, "admin", {"district": "示范区", "street_multiple": 4})
    assert response.status_code == 200 and response.get_json()["updated_by"] == "admin"
    assert login("admin").get("linshi/limits?district=示范区").get_json()["street_multiple"] == "4"
    assert login("jd_heping").get("linshi/limits").get_json()["configured"] is True
    assert login("admin").get("linshi/limits").status_code == 422  # which district?
    assert app.test_client().get("/api/v1/linshi/limits").status_code == 401


def test_linshi_limits__bad_input_per_field(app, login):
    cases = [
        ({"street_multiple": 0}, "street_multiple"),
        ({"street_multiple": -1}, "street_multiple"),
        ({"street_multiple": "三倍"}, "street_multiple"),
        ({"street_multiple": True}, "street_multiple"),
        ({"street_multiple": "3.005"}, "street_multiple"),
        ({"joint_multiple": "NaN"}, "joint_multiple"),
        ({"joint_multiple": 2}, "joint_multiple"),  # not above the street multiple (3)
        ({"street_multiple": 12}, "joint_multiple"),  # above the joint multiple (10)
        ({"last_year_average_income": "1e400"}, "last_year_average_income"),
        ({"last_year_average_income": 12.345}, "last_year_average_income"),
    ]
    for body, field in cases:
        response = put(login, "qu_approver", body)
        assert response.status_code == 422, (body, response.get_json())
        fields = response.get_json()["error"]["fields"]
        assert list(fields) == [field], (body, fields)
        assert re.search(r"[\u4e00-\u9fff]", fields[field][0]), fields  # said in Chinese
    response = login("qu_approver")._call("put", "linshi/limits", data="[1]", content_type="application/json")
    assert response.status_code == 422
    assert login("jd_heping").get("linshi/limits").get_json()["configured"] is False


def test_linshi_cases__details_are_checked(app, login):
    clerk = login("jd_heping")
    body = linshi_application()
    body["details"] = {"kind": "sudden", "requested_amount": "-5", "reason": ""}
    response = clerk.post("cases", json=body)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"details.kind", "details.requested_amount",
                                                           "details.reason"}
    body["details"] = {"kind": "expense", "requested_amount": "100.001", "reason": "医疗"}
    response = clerk.post("cases", json=body)
    assert response.status_code == 422 and "details.requested_amount" in response.get_json()["error"]["fields"]
    body.pop("details")
    response = clerk.post("cases", json=body)
    assert response.status_code == 422 and "details" in response.get_json()["error"]["fields"]


def test_linshi_cases__typical_application(app, login):
    body = linshi_application(kind="expense", requested_amount="6000.50")
    body["details"]["incident_date"] = "2026-02-20"
    body["details"]["expense_items"] = [{"item": "住院医疗费", "amount": "28000.00"}]
    response = login("jd_heping").post("cases", json=body)
    assert response.status_code == 201, response.get_json()
    case = login("jd_heping").get(f"cases/{response.get_json()['id']}").get_json()
    assert case["program"] == "linshi" and case["status"] == "in_progress"
    assert [t["element_id"] for t in case["tasks"]] == ["accept"]

"""The register and standards API: query validation, 404s, sign-in, paging and the standards list."""
from __future__ import annotations

from tests.scenario import Dibao, advance


def _approved(login, street="和平街道") -> int:
    case = Dibao(login, street=street)
    case.through_street()
    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve()
    case.set_up_payment()
    return case.id


def test_api__recipients_bad_queries_and_missing(client, login):
    admin = login("admin")
    for query, field in [("status=gone", "status"), ("limit=0", "limit"), ("limit=501", "limit"),
                         ("offset=-1", "offset"), ("month=2026-3", "month"), ("month=abcdefghij", "month")]:
        response = admin.get(f"recipients?{query}")
        assert response.status_code == 422, query
        assert field in response.get_json()["error"]["fields"], query
    assert admin.get("recipients/999999").status_code == 404
    assert client.get("/api/v1/recipients").status_code == 401
    assert client.get("/api/v1/standards").status_code == 401
    assert client.post("/api/v1/standards/preview", json={}).status_code == 401
    body = admin.get("recipients").get_json()
    assert body == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_api__recipients_paging_and_standards_list(login):
    first, second = _approved(login), _approved(login, street="安定街道")
    page = login("qu_approver").get("recipients?limit=1").get_json()
    assert page["total"] == 2 and [r["case_id"] for r in page["items"]] == [second]
    page = login("qu_approver").get("recipients?limit=1&offset=1").get_json()
    assert [r["case_id"] for r in page["items"]] == [first]
    assert login("sq_heping").get("recipients").get_json()["total"] == 1  # a community worker: their community
    assert login("admin").get(f"recipients?q={first}").get_json()["items"][0]["case_id"] == first
    assert login("admin").get("recipients?q=张").get_json()["total"] == 2
    standards = login("jd_heping").get("standards").get_json()["items"]
    assert {(s["program"], s["area"], s["amount"], s["effective_month"]) for s in standards} >= {
        ("dibao", "urban", "1395.00", "2024-07")}
    assert login("admin").post("standards/preview", json=[1]).status_code == 422
    assert login("admin").post("standards/preview", data="{", content_type="application/json").status_code == 422

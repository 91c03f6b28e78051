"""The payment-run API: finance-only, one district, create/answer, lines, confirm, bank file, results, failures."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from workflows.demo import DISTRICT
from workflows.models import LocalStandard

from .test_workflows__payment_runs import make_recipient


@pytest.fixture
def register(app, db):
    """Three households payable in March 2026 (the test clock's month)."""
    with app.app_context():
        people = [make_recipient(db.session, name="张三", amount="1000.00"),
                  make_recipient(db.session, name="李四", amount="850.50"),
                  make_recipient(db.session, name="王五", amount="600.00", street="安定街道",
                                 community="安定门社区")]
        db.session.commit()
        ids = [p.id for p in people]
        db.session.remove()
    return ids


def _create(login, user="cz_payer", **body):
    return login(user).post("payment-runs", json={"program": "dibao", "month": "2026-03", **body})


def test_api_payment_runs__create_then_answer_the_same_run(login, register):
    created = _create(login)
    assert created.status_code == 201, created.get_json()
    run = created.get_json()
    assert run["status"] == "draft" and run["households"] == 3 and run["total"] == "2450.50"
    assert run["by_funding"] == {"district": "1225.25", "township": "1225.25"}
    assert {s["street"]: s["total"] for s in run["by_street"]} == {"和平街道": "1850.50", "安定街道": "600.00"}
    assert run["due_date"] == "2026-03-09" and run["lines"]["pending"] == 3
    again = _create(login)
    assert again.status_code == 200 and again.get_json()["id"] == run["id"]


@pytest.mark.parametrize("month, problem", [("2026-3", "YYYY-MM"), ("2026-05", "2026-04"), ("", "YYYY-MM"),
                                            ("2024-12\n", "YYYY-MM"), ("2026-03\n", "YYYY-MM")])
def test_api_payment_runs__bad_months_are_refused_naming_month(login, register, month, problem):
    response = _create(login, month=month)
    assert response.status_code == 422
    assert problem in response.get_json()["error"]["fields"]["month"][0]
    assert login("cz_payer").get("payment-runs").get_json()["total"] == 0


@pytest.mark.parametrize("user, status", [("jd_heping", 403), ("supervisor", 403), ("qu_approver", 403)])
def test_api_payment_runs__only_finance_creates(login, register, user, status):
    assert _create(login, user).status_code == status


def test_api_payment_runs__reads_are_for_finance_and_supervisors_of_the_district(login, register):
    run_id = _create(login).get_json()["id"]
    assert login("supervisor").get(f"payment-runs/{run_id}").status_code == 200
    assert login("jd_heping").get(f"payment-runs/{run_id}").status_code == 403
    assert login("supervisor").post(f"payment-runs/{run_id}/confirm").status_code == 403
    other = _create(login, "admin", district="别的区")
    assert other.status_code == 201 and other.get_json()["households"] == 0
    assert login("cz_payer").get(f"payment-runs/{other.get_json()['id']}").status_code == 404
    assert [r["id"] for r in login("cz_payer").get("payment-runs").get_json()["items"]] == [run_id]
    assert login("admin").get("payment-runs").get_json()["total"] == 2
    assert _create(login, "admin").status_code == 422  # an admin names the district
    assert _create(login, district="别的区").status_code == 403


def test_api_payment_runs__confirm_export_results_failures(login, register):
    finance = login("cz_payer")
    run_id = _create(login).get_json()["id"]
    early = finance.get(f"payment-runs/{run_id}/bank-file?format=csv")
    assert early.status_code == 409
    confirmed = finance.post(f"payment-runs/{run_id}/confirm")
    assert confirmed.status_code == 200 and confirmed.get_json()["confirmed_by"] == "cz_payer"
    assert finance.post(f"payment-runs/{run_id}/confirm").status_code == 409
    # A draft is answered again; a confirmed month is not created again.
    again = _create(login)
    assert again.status_code == 409 and "已确认" in again.get_json()["error"]["message"]

    exported = finance.get(f"payment-runs/{run_id}/bank-file?format=csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    text = exported.data.decode("utf-8-sig")
    assert text.splitlines()[-1].startswith("合计,3,") and "2450.50" in text.splitlines()[-1]
    assert finance.get(f"payment-runs/{run_id}").get_json()["status"] == "exported"
    xlsx = finance.get(f"payment-runs/{run_id}/bank-file?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert finance.get(f"payment-runs/{run_id}/bank-file?format=pdf").status_code == 422

    lines = finance.get(f"payment-runs/{run_id}/payments?limit=10").get_json()
    assert lines["total"] == 3 and lines["items"][0]["head_name"] == "张*"
    ids = [line["id"] for line in lines["items"]]
    bad = f"明细编号,金额,结果,原因\n{ids[0]},1000.00,成功,\n{ids[1]},1.00,成功,\n".encode()
    refused = finance.post(f"payment-runs/{run_id}/bank-results", data=bad, content_type="text/csv")
    assert refused.status_code == 422
    assert list(refused.get_json()["error"]["fields"]) == ["第 3 行"]
    assert finance.get(f"payment-runs/{run_id}/payments?status=paid").get_json()["total"] == 0

    good = f"明细编号,金额,结果,原因\n{ids[0]},1000.00,成功,\n{ids[1]},850.50,失败,账户冻结\n{ids[2]},600.00,失败,销户\n"
    imported = finance.post(f"payment-runs/{run_id}/bank-results",
                            data={"file": (io.BytesIO(good.encode()), "results.csv")},
                            content_type="multipart/form-data")
    assert imported.status_code == 200, imported.get_json()
    assert imported.get_json()["paid"] == 1 and imported.get_json()["run"]["status"] == "closed"

    failed = finance.get(f"payment-runs/{run_id}/payments?status=failed").get_json()
    assert [item["reason"] for item in failed["items"]] == ["账户冻结", "销户"]
    no_reason = finance.post(f"payment-runs/{run_id}/failures/{ids[2]}", json={"action": "stop"})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["fields"]
    assert finance.post(f"payment-runs/{run_id}/failures/{ids[1]}", json={"action": "carry"}).status_code == 200
    stopped = finance.post(f"payment-runs/{run_id}/failures/{ids[2]}", json={"action": "stop", "reason": "已迁出"})
    assert stopped.status_code == 200 and stopped.get_json()["status"] == "stopped"
    assert finance.post(f"payment-runs/{run_id}/failures/{ids[0]}", json={"action": "carry"}).status_code == 409
    assert finance.post(f"payment-runs/{run_id}/failures/999999", json={"action": "carry"}).status_code == 404

    april = finance.post("payment-runs", json={"program": "dibao", "month": "2026-04"}).get_json()
    assert april["households"] == 3 and april["total"] == "3301.00"  # 2450.50 + the carried 850.50
    carried = finance.get(f"payment-runs/{april['id']}/payments?limit=10").get_json()["items"]
    assert [(i["for_month"], i["carried_from_id"]) for i in carried if i["carried_from_id"]] == [("2026-03", ids[1])]


def test_api_payment_runs__results_before_export_and_empty_upload(login, register):
    finance = login("cz_payer")
    run_id = _create(login).get_json()["id"]
    assert finance.post(f"payment-runs/{run_id}/bank-results", data=b"x", content_type="text/csv").status_code == 409
    finance.post(f"payment-runs/{run_id}/confirm")
    finance.get(f"payment-runs/{run_id}/bank-file")
    empty = finance.post(f"payment-runs/{run_id}/bank-results", data=b"", content_type="text/csv")
    assert empty.status_code == 422 and "file" in empty.get_json()["error"]["fields"]


def _exported_run(login):
    finance = login("cz_payer")
    run_id = _create(login).get_json()["id"]
    finance.post(f"payment-runs/{run_id}/confirm")
    assert finance.get(f"payment-runs/{run_id}/bank-file").status_code == 200
    ids = [line["id"] for line in finance.get(f"payment-runs/{run_id}/payments?limit=10").get_json()["items"]]
    return finance, run_id, ids


@pytest.mark.parametrize("second, problem", [
    ("{id},850.50,成功," + "x" * 131_073, "字段过长"),
    ("²,850.50,成功,", "不是数字"),
    ("{id},sNaN,成功,", "不是两位小数以内的数字"),
    ("合计,1,sNaN", "合计行格式应为"),
])
def test_api_payment_runs__a_malformed_result_file_is_422_naming_the_line(login, register, second, problem):
    finance, run_id, ids = _exported_run(login)
    body = f"明细编号,金额,结果,原因\n{ids[0]},1000.00,成功,\n{second.format(id=ids[1])}\n".encode()
    refused = finance.post(f"payment-runs/{run_id}/bank-results", data=body, content_type="text/csv")
    assert refused.status_code == 422, refused.get_data(as_text=True)[:300]
    fields = refused.get_json()["error"]["fields"]
    assert problem in " ".join(fields["第 3 行"])
    assert finance.get(f"payment-runs/{run_id}/payments?status=pending").get_json()["total"] == 3


def test_api_payment_runs__a_result_file_with_cr_line_endings_imports(login, register):
    finance, run_id, ids = _exported_run(login)
    body = "\r".join(["明细编号,金额,结果,原因", f"{ids[0]},1000.00,成功,", f"{ids[1]},850.50,失败,销户"]).encode()
    imported = finance.post(f"payment-runs/{run_id}/bank-results", data=body, content_type="text/csv")
    assert imported.status_code == 200, imported.get_json()
    assert (imported.get_json()["paid"], imported.get_json()["failed"], imported.get_json()["pending"]) == (1, 1, 1)


def test_api_payment_runs__a_rural_household_follows_the_urban_share_without_a_rural_standard(app, login, register):
    """As its amount does (standards.standard_in_force): no rural standard → the urban one, share 0.6, not 0.5."""
    with app.app_context():
        from web.extensions import db  # noqa: PLC0415 - the app's session, inside its context

        db.session.add(LocalStandard(district=DISTRICT, program="dibao", area="urban", amount=Decimal("1500"),
                                     effective_from=date(2026, 1, 1), district_share=Decimal("0.6")))
        make_recipient(db.session, name="赵六", amount="333.33", area="rural")
        db.session.commit()
        db.session.remove()
    run = _create(login).get_json()
    assert run["total"] == "2783.83"
    # 2450.50 × 0.6 = 1470.30 (urban) + 333.33 × 0.6 = 199.998 → 200.00 (rural, rounded half-up to the fen)
    assert run["by_funding"] == {"district": "1670.30", "township": "1113.53"}
    lines = login("cz_payer").get(f"payment-runs/{run['id']}/payments?limit=10").get_json()["items"]
    rural = next(line for line in lines if line["amount"] == "333.33")
    assert (rural["district_share"], rural["township_share"]) == ("200.00", "133.33")


def test_api_payment_runs__first_export_needs_a_bearer_token_not_the_page_cookie(app, login, register):
    from tests.ui_pages import PageClient

    run_id = _create(login).get_json()["id"]
    assert login("cz_payer").post(f"payment-runs/{run_id}/confirm").status_code == 200
    # A link from another site would carry the finance officer's page cookie: it must not export (and change) the run.
    page = PageClient(app, "cz_payer")
    refused = page.get(f"/api/v1/payment-runs/{run_id}/bank-file?format=csv")
    assert refused.status_code == 403
    assert login("cz_payer").get(f"payment-runs/{run_id}").get_json()["status"] == "confirmed"
    # With the bearer token it exports; afterwards the page session may download it again.
    assert login("cz_payer").get(f"payment-runs/{run_id}/bank-file?format=csv").status_code == 200
    assert page.get(f"/api/v1/payment-runs/{run_id}/bank-file?format=csv").status_code == 200

"""After approval, through the API with the simulated clock: the household is on the register from the month after
approval with the right amount, breakdown and review date; a new standard is previewed, then applied from its
month with one audited change per recipient; bad input is refused by field; other jurisdictions do not see it."""
from __future__ import annotations

from datetime import date, datetime

from engine.clock import SHANGHAI
from tests.scenario import Dibao, advance, approved_case
from workflows.register.months import add_months_to_date


def _shanghai_day(text: str) -> date:
    return datetime.fromisoformat(text).astimezone(SHANGHAI).date()


def _my_recipient(login, case_id: int, as_user: str = "admin") -> dict | None:
    items = login(as_user).get("recipients?limit=500").get_json()["items"]
    mine = [r for r in items if r["case_id"] == case_id]
    assert len(mine) <= 1
    return mine[0] if mine else None


def test_scenario__approved_in_november_paid_from_december(login):
    advance(login, "P250D")  # 2026-03-02 → 2026-11-07
    case = approved_case(login)
    body = case.case()
    decided = _shanghai_day(body["decided_at"])
    assert body["status"] == "approved" and decided.month == 11, decided

    item = _my_recipient(login, case.id)
    assert item is not None
    assert item["since_month"] == "2026-12"  # computed; the form's 首次发放月份 ("2026-04") is ignored
    assert item["status"] == "active" and item["program"] == "dibao" and item["members"] == 2
    assert item["head_name"] == "张*"
    # (1395 − 800/2) × 2 = 1990, plus 20% of the standard for the child (minor): 279.
    assert item["monthly_amount"] == "2269.00"
    breakdown = item["breakdown"]
    assert breakdown["standard"] == "1395.00" and breakdown["per_capita_income"] == "400.00"
    assert breakdown["base"] == "1990.00" and breakdown["total"] == "2269.00" and "adjustment" not in breakdown
    assert [(t["member"], t["category"], t["amount"]) for t in breakdown["topups"]] == [("1", "minor", "279.00")]
    # Head of working age with partial capacity, a child: "stable" under the 2012 rules → 6 months.
    assert item["next_review_due"] == add_months_to_date(decided, 6).isoformat()

    detail = login("admin").get(f"recipients/{item['id']}").get_json()
    assert [(c["kind"], c["effective_month"], c["new_amount"], c["actor"]) for c in detail["changes"]] == [
        ("approved", "2026-12", "2269.00", "cz_payer")]
    assert detail["payments"] == [] and detail["reviews"] == []
    assert detail["account_number"].endswith("2222") and "6222000011" not in detail["account_number"]
    assert "id_number" not in str(detail)

    # The street's own staff see it; the other street's do not, and get a 404 for it.
    assert _my_recipient(login, case.id, "jd_heping") is not None
    assert _my_recipient(login, case.id, "jd_anding") is None
    assert login("jd_anding").get(f"recipients/{item['id']}").status_code == 404
    assert login("cz_payer").get(f"recipients/{item['id']}").status_code == 200
    # Filters.
    assert _my_recipient(login, case.id, "admin") == item
    by_month = login("admin").get("recipients?month=2026-11").get_json()["items"]
    assert case.id not in {r["case_id"] for r in by_month}
    by_month = login("admin").get("recipients?month=2026-12&street=和平街道&status=active").get_json()
    assert case.id in {r["case_id"] for r in by_month["items"]} and by_month["total"] >= 1
    bad = login("admin").get("recipients?month=2026-13")
    assert bad.status_code == 422 and "month" in bad.get_json()["error"]["fields"]


def test_scenario__the_approval_day_counts_not_the_payment_setup_day(login):
    advance(login, "P250D")  # 2026-03-02 → 2026-11-07
    case = Dibao(login, members=2, income=800.0)
    case.through_street(income=800.0)
    advance(login, "P8D")
    case.spot_check_if_selected()
    now = datetime.fromisoformat(advance(login, "PT0S")["now"]).astimezone(SHANGHAI)
    # Approve on 30 November; finance registers the bank account only in December.
    advance(login, f"P{(date(2026, 11, 30) - now.date()).days}D")
    case.approve()
    advance(login, "P3D")
    case.set_up_payment()
    assert _shanghai_day(case.case()["decided_at"]).month == 12
    item = _my_recipient(login, case.id)
    assert item["since_month"] == "2026-12"


def test_scenario__standard_change_from_march_previewed_then_applied(login):
    advance(login, "P250D")
    case = approved_case(login)
    second = approved_case(login, street="安定街道")
    item = _my_recipient(login, case.id)
    other = _my_recipient(login, second.id)
    advance(login, "P90D")  # → February 2027
    proposal = {"program": "dibao", "area": "urban", "amount": "1500", "effective_month": "2027-03"}

    preview = login("qu_approver").post("standards/preview", json=proposal)
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    rows = {r["recipient_id"]: r for r in body["rows"]}
    # (1500 − 400) × 2 + 20% × 1500 = 2500.
    assert rows[item["id"]]["old_amount"] == "2269.00" and rows[item["id"]]["new_amount"] == "2500.00"
    assert rows[item["id"]]["effective_month"] == "2027-03" and rows[item["id"]]["difference"] == "231.00"
    assert body["households"] == len(rows) >= 2 and body["standard"]["amount"] == "1500.00"
    # Finance may look too; a preview writes nothing.
    assert login("cz_payer").post("standards/preview", json=proposal).status_code == 200
    assert _my_recipient(login, case.id)["monthly_amount"] == "2269.00"
    listed = login("admin").get("standards?program=dibao").get_json()["items"]
    assert [s["effective_month"] for s in listed if s["area"] == "urban"] == ["2024-07"]

    # Who may apply, and bad input: each refused naming its field, nothing written.
    assert login("cz_payer").post("standards", json=proposal).status_code == 403
    assert login("jd_heping").post("standards/preview", json=proposal).status_code == 403
    for change, field in [({"effective_month": "2027-01"}, "effective_month"),
                          ({"effective_month": "2027-3"}, "effective_month"),
                          ({"amount": "abc"}, "amount"), ({"amount": -5}, "amount"), ({"amount": "1500.001"}, "amount"),
                          ({"area": "suburb"}, "area"), ({"program": "nope"}, "program"),
                          ({"district": "别的区"}, "district"), ({"district_share": 2}, "district_share"),
                          ({"topup_rates": {"elderly": 0.3, "vip": 1}}, "topup_rates")]:
        response = login("qu_approver").post("standards", json=dict(proposal, **change))
        assert response.status_code == 422, (change, response.get_json())
        assert field in response.get_json()["error"]["fields"], (change, response.get_json())
    assert len(login("admin").get("standards?program=dibao").get_json()["items"]) == len(listed)

    applied = login("qu_approver").post("standards", json=proposal)
    assert applied.status_code == 201, applied.get_json()
    assert applied.get_json()["new_total"] == body["new_total"]
    duplicate = login("qu_approver").post("standards", json=proposal)
    assert duplicate.status_code == 422 and "effective_month" in duplicate.get_json()["error"]["fields"]

    for recipient, new in ((item, "2500.00"), (other, rows[other["id"]]["new_amount"])):
        detail = login("admin").get(f"recipients/{recipient['id']}").get_json()
        assert detail["monthly_amount"] == new
        standard_changes = [c for c in detail["changes"] if c["kind"] == "standard"]
        assert len(standard_changes) == 1, detail["changes"]
        change = standard_changes[0]
        assert (change["effective_month"], change["old_amount"], change["new_amount"], change["actor"]) == (
            "2027-03", recipient["monthly_amount"], new, "qu_approver")
        assert detail["breakdown"]["standard"] == "1500.00" and detail["breakdown"]["standard_from"] == "2027-03"

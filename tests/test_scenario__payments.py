"""Payments through the API with the simulated clock: a case approved in November is first paid in December's run
with its amount; the month's run is created once, confirmed, exported, settled by the bank's results; a failed
payment carried into January is paid there for December; an unconfirmed run is reminded and escalated by the
sweeps."""
from __future__ import annotations

from datetime import datetime

from tests.scenario import advance, approved_case


def _recipient_id(login, case_id: int) -> int:
    items = login("admin").get("recipients?limit=500").get_json()["items"]
    return next(r["id"] for r in items if r["case_id"] == case_id)


def _run(login, month: str, expect=(200, 201)) -> dict:
    response = login("cz_payer").post("payment-runs", json={"program": "dibao", "month": month})
    assert response.status_code in expect, response.get_json()
    return response.get_json()


def _lines(login, run_id: int, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return login("cz_payer").get(f"payment-runs/{run_id}/payments?limit=1000&{query}").get_json()["items"]


def test_scenario__approved_in_november_first_paid_in_december(login):
    advance(login, "P250D")  # 2026-03-02 → 2026-11-07
    case = approved_case(login)
    recipient = _recipient_id(login, case.id)

    november = _run(login, "2026-11")  # approved this month: not yet paid
    assert recipient not in {line["recipient_id"] for line in _lines(login, november["id"])}
    december = _run(login, "2026-12")  # next month may be prepared ahead
    mine = [line for line in _lines(login, december["id"]) if line["recipient_id"] == recipient]
    assert [(line["for_month"], line["amount"], line["status"]) for line in mine] == [
        ("2026-12", "2269.00", "pending")]
    assert (mine[0]["district_share"], mine[0]["township_share"]) == ("1134.50", "1134.50")
    assert _run(login, "2027-01", expect=(422,))["error"]["fields"]["month"]  # beyond next month
    assert _run(login, "2026-12")["id"] == december["id"]  # created once

    finance = login("cz_payer")
    assert finance.post(f"payment-runs/{december['id']}/confirm").status_code == 200
    bank = finance.get(f"payment-runs/{december['id']}/bank-file?format=csv")
    rows = bank.data.decode("utf-8-sig").splitlines()
    assert bank.status_code == 200 and any("****" in row and "2222" in row and "2269.00" in row for row in rows)
    others = [line for line in _lines(login, december["id"]) if line["recipient_id"] != recipient]
    results = ["明细编号,金额,结果,原因", f"{mine[0]['id']},2269.00,失败,账户冻结"]
    results += [f"{line['id']},{line['amount']},成功," for line in others]
    imported = finance.post(f"payment-runs/{december['id']}/bank-results", data="\n".join(results).encode(),
                            content_type="text/csv")
    assert imported.status_code == 200, imported.get_json()
    assert imported.get_json()["run"]["status"] == "closed"
    failed = _lines(login, december["id"], status="failed")
    assert [(line["recipient_id"], line["reason"]) for line in failed] == [(recipient, "账户冻结")]
    assert finance.post(f"payment-runs/{december['id']}/failures/{mine[0]['id']}",
                        json={"action": "carry", "reason": "已更正账户"}).status_code == 200

    advance(login, "P30D")  # into December: January's run may be prepared
    january = _run(login, "2027-01")
    again = sorted((line["for_month"], line["amount"], line["carried_from_id"])
                   for line in _lines(login, january["id"]) if line["recipient_id"] == recipient)
    assert again == [("2026-12", "2269.00", mine[0]["id"]), ("2027-01", "2269.00", None)]


def _advance_to(login, local: str) -> None:
    """Move the simulated clock to an Asia/Shanghai instant (and run the sweeps)."""
    now = datetime.fromisoformat(login("admin").get("admin/clock").get_json()["now"])
    seconds = int((datetime.fromisoformat(local) - now).total_seconds())
    assert seconds > 0, (now, local)
    advance(login, f"PT{seconds}S")


def test_scenario__an_unconfirmed_run_is_reminded_then_escalated(login):
    advance(login, "P250D")  # 2026-11-07
    approved_case(login)
    december = _run(login, "2026-12")
    assert december["due_date"] == "2026-12-09" and december["reminded_at"] is None  # a Wednesday
    _advance_to(login, "2026-12-07T18:00:00+08:00")
    assert login("cz_payer").get(f"payment-runs/{december['id']}").get_json()["reminded_at"] is None
    _advance_to(login, "2026-12-08T09:00:00+08:00")  # the working day before the due day has begun
    seen = login("cz_payer").get(f"payment-runs/{december['id']}").get_json()
    assert seen["reminded_at"] is not None and seen["overdue_at"] is None
    _advance_to(login, "2026-12-10T09:00:00+08:00")  # past 24:00 on the 9th, still not confirmed
    late = login("supervisor").get(f"payment-runs/{december['id']}").get_json()
    assert late["status"] == "draft" and late["overdue_at"] and late["escalated_at"]

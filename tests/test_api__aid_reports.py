"""The aid register through the API: a 低保 approval enters it (GET /cases/{id} aid_record), the overlap reports
(duplicate / missed) and the quarterly report (JSON and Excel), each scoped to the caller."""
from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook

from tests.scenario import approved_case
from workflows.aid.models import AidRecord
from workflows.aid.records import record_aid
from workflows.models import Case


def _grant(app, case_id: int, **kwargs) -> None:
    from web.extensions import db

    with app.app_context():
        case = db.session.get(Case, case_id)
        record_aid(db.session, case, now=app.extensions["jiuzhu.engine"].now(), **kwargs)
        db.session.commit()


def test_api__case_shows_household_aid_after_dibao_approval(app, login):
    case = approved_case(login)
    body = case.case()
    record = body["aid_record"]
    assert len(record) == 1
    aid = record[0]
    assert (aid["program"], aid["kind"], aid["agency"], aid["monthly"], aid["status"]) == (
        "dibao", "dibao", "区民政局", True, "active")
    assert aid["amount"] == "2269.00"
    assert aid["period_from"] == "2026-04-01" and aid["period_to"] is None  # approved in March, paid from April
    assert len(aid["members"]) == 2 and all("*" in m for m in aid["members"])
    assert body["household"]["members"][0]["id_number"] in aid["members"]
    # Another agency's aid to one of the members shows on the case too, newest first.
    _grant(app, case.id, program="zhuxue", agency="区教委", period_from=date(2026, 5, 1), amount="800")
    record = case.case()["aid_record"]
    assert [a["program"] for a in record] == ["zhuxue", "dibao"]
    assert record[0]["agency"] == "区教委" and record[0]["amount"] == "800.00"


def test_api__overlaps_bad_kind_and_roles(client, login):
    supervisor = login("supervisor")
    for query, field in [("", "kind"), ("kind=both", "kind"), ("kind=missed&date=2026-13-01", "date"),
                         ("kind=missed&limit=0", "limit")]:
        response = supervisor.get(f"reports/aid-overlaps?{query}")
        assert response.status_code == 422, query
        assert field in response.get_json()["error"]["fields"], query
    for query, field in [("year=1900", "year"), ("quarter=5", "quarter"), ("agency=区外单位", "agency"),
                         ("format=pdf", "format")]:
        response = supervisor.get(f"reports/quarterly?{query}")
        assert response.status_code == 422, query
        assert field in response.get_json()["error"]["fields"], query
    assert login("sq_heping").get("reports/aid-overlaps?kind=missed").status_code == 403
    assert login("designer").get("reports/quarterly").status_code == 403
    assert client.get("/api/v1/reports/aid-overlaps?kind=missed").status_code == 401


def test_api__missed_and_duplicate_aid_scoped(app, login):
    case = approved_case(login)  # a 2-member 低保 household in 和平街道 with a child born 2015-06-01
    missed = login("supervisor").get("reports/aid-overlaps?kind=missed").get_json()
    assert missed["kind"] == "missed" and missed["date"] == "2026-03-10"
    assert [(i["case_id"], i["rule"], i["expected_agency"], i["age"]) for i in missed["items"]] == [
        (case.id, "school_age_without_zhuxue", "区教委", 10)]
    assert "*" in missed["items"][0]["member_id_number"] and "*" in missed["items"][0]["member_name"]
    assert login("jd_heping").get("reports/aid-overlaps?kind=missed").get_json()["total"] == 1
    assert login("jd_anding").get("reports/aid-overlaps?kind=missed").get_json()["total"] == 0  # another street
    assert login("jiaowei").get("reports/aid-overlaps?kind=missed").get_json()["total"] == 1  # 助学 is 区教委's
    assert login("canlian").get("reports/aid-overlaps?kind=missed").get_json()["total"] == 0

    # 助学 from 区教委 and again from 区慈善协会 for the same child in overlapping periods: one duplicate, no miss.
    _grant(app, case.id, program="zhuxue", agency="区教委", period_from=date(2026, 3, 1),
           period_to=date(2026, 7, 31), amount="1000")
    _grant(app, case.id, program="cishan", kind="zhuxue", agency="区慈善协会", period_from=date(2026, 6, 1),
           amount="300.50")
    assert login("supervisor").get("reports/aid-overlaps?kind=missed").get_json()["total"] == 0
    duplicate = login("supervisor").get("reports/aid-overlaps?kind=duplicate").get_json()
    assert duplicate["total"] == 1
    item = duplicate["items"][0]
    assert (item["kind"], item["reason"], item["overlap_from"], item["overlap_to"]) == (
        "zhuxue", "two_agencies", "2026-06-01", "2026-06-30")
    assert {r["agency"] for r in item["records"]} == {"区教委", "区慈善协会"} and len(item["members"]) == 2
    assert login("jd_heping").get("reports/aid-overlaps?kind=duplicate").get_json()["total"] == 1
    assert login("jd_anding").get("reports/aid-overlaps?kind=duplicate").get_json()["total"] == 0
    assert login("cishan").get("reports/aid-overlaps?kind=duplicate").get_json()["total"] == 1  # its record
    assert login("fangguan").get("reports/aid-overlaps?kind=duplicate").get_json()["total"] == 0  # not involved


def test_api__quarterly_report_json_xlsx_and_scoping(app, login):
    case = approved_case(login)
    _grant(app, case.id, program="zhuxue", agency="区教委", period_from=date(2026, 3, 1), amount="800.25")
    body = login("supervisor").get("reports/quarterly?year=2026&quarter=1").get_json()
    assert (body["year"], body["quarter"], body["months"]) == (2026, 1, ["2026-01", "2026-02", "2026-03"])
    rows = {(r["agency"], r["program"]): r for r in body["items"]}
    dibao = rows[("区民政局", "dibao")]
    assert (dibao["received"], dibao["approved"], dibao["refused"], dibao["terminated"], dibao["in_progress"]) == \
        (1, 1, 0, 0, 0)
    assert dibao["granted_amount"] == "0.00" and dibao["households"] == 0  # paid from April: nothing in Q1
    zhuxue = rows[("区教委", "zhuxue")]
    assert (zhuxue["granted_amount"], zhuxue["funds_used"], zhuxue["households"]) == ("800.25", "800.25", 1)
    assert body["totals"]["granted_amount"] == "800.25" and body["totals"]["households"] == 1

    q2 = login("supervisor").get("reports/quarterly?year=2026&quarter=2").get_json()
    dibao = {(r["agency"], r["program"]): r for r in q2["items"]}[("区民政局", "dibao")]
    assert dibao["granted_amount"] == "6807.00" and dibao["households"] == 1  # 2269.00 × 3 months
    assert dibao["received"] == 0 and dibao["approved"] == 0

    # Agency staff: their own agency's rows only; asking for another agency is refused.
    own = login("jiaowei").get("reports/quarterly?year=2026&quarter=1").get_json()
    assert [(r["agency"], r["program"]) for r in own["items"]] == [("区教委", "zhuxue")]
    assert login("jiaowei").get("reports/quarterly?year=2026&quarter=1&agency=区民政局").status_code == 403
    only = login("supervisor").get("reports/quarterly?year=2026&quarter=1&agency=区教委").get_json()
    assert [r["agency"] for r in only["items"]] == ["区教委"]
    # A street user: their street only.
    assert login("jd_anding").get("reports/quarterly?year=2026&quarter=1").get_json()["items"] == []
    assert login("jd_heping").get("reports/quarterly?year=2026&quarter=1").get_json()["totals"]["received"] == 1

    response = login("supervisor").get("reports/quarterly?year=2026&quarter=1&format=xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "quarterly.xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert "2026年第1季度" in sheet["A1"].value
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values[0][:3] == ["单位", "救助项目", "受理"]
    zhuxue_line = next(v for v in values if v[0] == "区教委")
    assert "已终止" in values[0]  # terminated cases are not counted as approved (their own column)
    assert float(zhuxue_line[values[0].index("救助金额合计（元）")]) == 800.25
    assert values[-1][0] == "合计"


def test_api__recipient_stop_ends_the_aid_record(app, login):
    """A stop on the register ends the household's 低保 aid with the last month paid."""
    from web.extensions import db
    from workflows.register.ledger import record_change
    from workflows.register.models import Recipient, RecipientStatus

    case = approved_case(login)
    with app.app_context():
        recipient = db.session.query(Recipient).filter_by(case_id=case.id).one()
        record_change(db.session, recipient, kind="stop", actor="qu_approver", reason="收入超标",
                      now=app.extensions["jiuzhu.engine"].now(), effective_month="2026-07",
                      new_status=RecipientStatus.STOPPED)
        db.session.commit()
        aid = db.session.query(AidRecord).filter_by(case_id=case.id).one()
        assert (aid.status.value, aid.period_to) == ("ended", date(2026, 6, 30))
    record = case.case()["aid_record"][0]
    assert (record["status"], record["period_to"], record["current"]) == ("ended", "2026-06-30", False)

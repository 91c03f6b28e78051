"""Complaints end to end: every complaint gets a home visit; unfounded closes it; a correction changes the register
through its ledger; fraud records a receivable (the amount obtained plus a 1–3 × fine), stops the recipient and
revokes the household's aid records; a reported household's next 低保 decision is always spot-checked."""
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from tests.scenario import ComplaintFlow, Dibao, advance, approved_case


def _recipient(login, case) -> dict:
    recipient_id = case.case()["recipient_id"]
    assert recipient_id is not None
    response = login("admin").get(f"recipients/{recipient_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_complaints__unfounded_after_the_mandatory_home_visit(app, login):
    case = approved_case(login)
    before = _recipient(login, case)
    flow = ComplaintFlow(login, case_id=case.id)
    assert flow.detail()["status"] == "received"
    flow.complete("verify", "jd_heping", {"category": "income"})
    assert flow.detail()["status"] == "investigating"
    # The home visit cannot be skipped or done by one person.
    task = flow.open_task("home_visit", "jd_heping")
    assert task["due_at"] is not None
    refused = flow.complete("home_visit", "jd_heping", {"investigators": ["张伟"], "finding": ""}, expect=422)
    assert set(refused.get_json()["error"]["fields"]) == {"visited_on", "investigators", "finding"}
    flow.complete("home_visit", "jd_heping", {"visited_on": "2026-03-10", "investigators": ["张伟", "李强"],
                                              "finding": "未发现隐瞒收入的情况"})
    flow.complete("street_opinion", "jd_heping_lead", {"outcome": "unfounded", "opinion": "举报情况不实"})
    detail = flow.detail()
    assert detail["status"] == "closed" and detail["outcome"] == "unfounded"
    assert detail["finding"] == "未发现隐瞒收入的情况" and detail["receivable"] is None
    after = _recipient(login, case)
    assert after["monthly_amount"] == before["monthly_amount"] and after["status"] == "active"


def test_complaints__corrected_changes_the_amount_on_the_register(app, login):
    case = approved_case(login)
    before = _recipient(login, case)
    assert before["monthly_amount"] in ("2269.00", 2269.0)
    flow = ComplaintFlow(login, case_id=case.id)
    flow.investigate("corrected", "户主有务工收入，应调整保障金")
    # The district confirms: the amount is required when changing it.
    refused = flow.complete("confirm_correction", "qu_approver", {"decision": "approve", "action": "change",
                                                                  "reason": "收入增加"}, expect=422)
    assert "new_monthly_amount" in refused.get_json()["error"]["fields"]
    refused = flow.complete("confirm_correction", "qu_approver", {"decision": "approve", "reason": "收入增加"},
                            expect=422)
    assert "action" in refused.get_json()["error"]["fields"]
    flow.complete("confirm_correction", "qu_approver", {"decision": "approve", "action": "change",
                                                        "new_monthly_amount": 1500, "reason": "核实务工收入后调整"})
    detail = flow.detail()
    assert detail["status"] == "closed" and detail["outcome"] == "corrected"
    after = _recipient(login, case)
    assert Decimal(str(after["monthly_amount"])) == Decimal("1500.00")
    assert after["status"] == "active"
    change = [c for c in after["changes"] if c["kind"] == "complaint"]
    assert len(change) == 1 and change[0]["effective_month"] == "2026-04"  # decided in March: from April


def test_complaints__fraud_records_a_receivable_stops_and_revokes(app, login):
    from web.extensions import db
    from workflows.aid.models import AidRecord, AidStatus
    from workflows.aid.records import record_aid
    from workflows.complaints.models import Receivable
    from workflows.models import Case

    case = approved_case(login)
    with app.app_context():
        row = db.session.get(Case, case.id)
        if not db.session.scalars(select(AidRecord).where(AidRecord.case_id == case.id)).first():
            record_aid(db.session, row, program="dibao", agency="区民政局", now=row.decided_at,
                       period_from=date(2026, 4, 1), amount=Decimal("2269.00"), monthly=True)
            db.session.commit()
    flow = ComplaintFlow(login, case_id=case.id)
    flow.investigate("fraud", "隐瞒经营收入骗取低保")
    refused = flow.complete("confirm_fraud", "qu_approver", {"decision": "approve", "obtained_amount": 0,
                                                             "fine_multiple": 4, "reason": "骗取"}, expect=422)
    assert set(refused.get_json()["error"]["fields"]) == {"obtained_amount", "fine_multiple"}
    refused = flow.complete("confirm_fraud", "qu_approver", {"decision": "approve", "fine_multiple": 0.5,
                                                             "reason": "骗取"}, expect=422)
    assert set(refused.get_json()["error"]["fields"]) == {"obtained_amount", "fine_multiple"}
    # Any multiple from 1 to 3, e.g. 1.5.
    flow.complete("confirm_fraud", "qu_approver", {"decision": "approve", "obtained_amount": 4538,
                                                   "fine_multiple": 1.5, "reason": "隐瞒经营收入，骗取两个月低保金"})
    detail = flow.detail()
    assert detail["status"] == "closed" and detail["outcome"] == "fraud"
    receivable = detail["receivable"]
    assert receivable["obtained_amount"] == "4538.00" and receivable["fine_multiple"] == "1.5"
    assert receivable["fine_amount"] == "6807.00" and receivable["total"] == "11345.00"
    assert receivable["status"] == "open"
    recipient = _recipient(login, case)
    assert recipient["status"] == "stopped"
    with app.app_context():
        stored = db.session.scalars(select(Receivable)).one()
        assert stored.total == Decimal("11345.00") and stored.case_id == case.id
        assert stored.fine_multiple == Decimal("1.5")
        records = db.session.scalars(select(AidRecord).where(AidRecord.case_id == case.id)).all()
        assert records and all(r.status == AidStatus.REVOKED for r in records)


def test_complaints__fraud_needs_the_household_on_the_register(app, login):
    case = Dibao(login)  # still in progress: nothing to stop or recover yet
    flow = ComplaintFlow(login, case_id=case.id)
    flow.complete("verify", "jd_heping", {"category": "assets"})
    flow.complete("home_visit", "jd_heping", {"visited_on": "2026-03-10", "investigators": ["张伟", "李强"],
                                              "finding": "有车辆"})
    refused = flow.complete("street_opinion", "jd_heping_lead", {"outcome": "fraud", "opinion": "骗取"}, expect=422)
    assert "outcome" in refused.get_json()["error"]["fields"]


def _selection(app, instance_id) -> dict:
    from engine.models import AuditEntry
    from web.extensions import db

    with app.app_context():
        return db.session.scalars(select(AuditEntry.detail).where(
            AuditEntry.instance_id == instance_id, AuditEntry.action == "spot_check_selected")).one()


def test_complaints__reported_household_next_decision_is_spot_checked(app, login):
    reported = Dibao(login, name="王五")
    ComplaintFlow(login, case_id=reported.id)  # open: still being investigated when the case is decided
    cleared = Dibao(login, name="赵六")
    unfounded = ComplaintFlow(login, case_id=cleared.id)
    unfounded.investigate("unfounded", "情况不实")
    plain = Dibao(login, name="钱七")
    for case in (reported, cleared, plain):
        case.through_street()
    advance(login, "P8D")  # the notices end; each case is selected or not
    assert _selection(app, reported.instance_id)["mandatory"] is True
    assert _selection(app, reported.instance_id)["visit"] is True
    assert "spot_check" in reported.stage_elements()
    assert reported.case()["spot_checked"] is True
    # A complaint closed as unfounded no longer forces a visit, and an unreported household is not forced either.
    assert _selection(app, cleared.instance_id)["mandatory"] is False
    assert _selection(app, plain.instance_id)["mandatory"] is False


def test_complaints__district_rejects_the_street_finding_back_to_its_opinion(app, login):
    """The district may disagree with the street's finding (correction or fraud): the complaint goes back to the
    street's 处理意见, nothing changes on the register, and the street may then close it as unfounded."""
    case = approved_case(login)
    before = _recipient(login, case)
    flow = ComplaintFlow(login, case_id=case.id)
    flow.investigate("fraud", "隐瞒经营收入")
    # Sending back needs no amounts, only the reason.
    refused = flow.complete("confirm_fraud", "qu_approver", {"decision": "reject", "reason": ""}, expect=422)
    assert set(refused.get_json()["error"]["fields"]) == {"reason"}
    flow.complete("confirm_fraud", "qu_approver", {"decision": "reject", "reason": "证据不足，不能认定骗取"})
    assert flow.detail()["status"] == "investigating" and flow.detail()["receivable"] is None
    flow.complete("street_opinion", "jd_heping_lead", {"outcome": "corrected", "opinion": "收入增加，应调整"})
    flow.complete("confirm_correction", "qu_approver", {"decision": "reject", "reason": "收入未超过标准"})
    flow.complete("street_opinion", "jd_heping_lead", {"outcome": "unfounded", "opinion": "经复核情况不实"})
    detail = flow.detail()
    assert detail["status"] == "closed" and detail["outcome"] == "unfounded" and detail["receivable"] is None
    after = _recipient(login, case)
    assert (after["status"], after["monthly_amount"]) == ("active", before["monthly_amount"])
    assert not [c for c in after["changes"] if c["kind"] == "complaint"]


def test_complaints__founded_complaint_forces_only_the_next_decision(app, login):
    """A complaint makes the household's next decision a mandatory visit, not every later one: after a decision
    (a spot-check selection of one of its cases) that follows it, it no longer counts."""
    from web.extensions import db
    from workflows.complaints.rules import household_reported
    from workflows.models import Case

    reported = Dibao(login, name="王五")
    flow = ComplaintFlow(login, case_id=reported.id)
    reported.through_street()
    advance(login, "P8D")
    assert _selection(app, reported.instance_id)["mandatory"] is True
    from workflows.complaints.models import Complaint, ComplaintOutcome, ComplaintStatus

    with app.app_context():
        complaint = db.session.get(Complaint, flow.id)  # found true (corrected) after the decision it forced
        complaint.status, complaint.outcome = ComplaintStatus.CLOSED, ComplaintOutcome.CORRECTED
        db.session.commit()
        case = db.session.get(Case, reported.id)
        now = app.extensions["jiuzhu.engine"].now()
        # The same decision again (sent back past its notice): still forced.
        assert household_reported(db.session, case, now, instance_id=reported.instance_id) is True
        # Any later decision of the household: no longer forced by this complaint.
        assert household_reported(db.session, case, now) is False
        # A later complaint forces the next decision again.
        ComplaintFlow(login, case_id=reported.id)
        assert household_reported(db.session, case, app.extensions["jiuzhu.engine"].now()) is True

"""Whole 特困人员供养 cases through the HTTP API with the simulated clock (bpmn/tekun.bpmn): a typical case onto the
register and into the tekun payment run, a refusal because a supporter can support, an objection during the notice,
and the investigation's rule of two distinct investigators.

Every step restores the workflow from its stored state and saves it again, so each scenario is also a save/restore
round trip at every step.
"""
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from tests.scenario import Tekun, advance, tekun_application
from tests.ui_pages import PageClient

HALF_CARE = ("able", "partly", "able", "unable", "able", "able")  # 2 activities not done alone → 半自理


def _recipient(login, case_id: int) -> dict:
    items = login("admin").get("recipients?program=tekun&limit=500").get_json()["items"]
    matching = [r for r in items if r["case_id"] == case_id]
    assert matching, items
    return matching[0]


def test_scenario__tekun_typical_case_onto_register_and_payment_run(app, login):
    case = Tekun(login)
    assert case.stage_elements() == {"accept"}
    case.through_street(care=HALF_CARE)
    body = case.case()
    assert body["stage"] == "公示中"
    # 1395 × 1.3 = 1813.50 basic support, plus 30% of 1395 = 418.50 for 半自理.
    assert body["proposed_amount"] == 2232.0
    advance(login, "P8D")
    case.spot_check_if_selected()
    refused = case.approve(care_type="centralised", institution=None, expect=422).get_json()
    assert refused["error"]["fields"]["institution"] == ["集中供养时必须填写供养服务机构"]
    case.approve(care_type="centralised", institution="和平街道敬老院")
    case.set_up_payment()
    body = case.case()
    assert body["status"] == "approved" and body["amount"] == 2232.0
    assert ("task_completed", "approval") in [(h["action"], h["element_id"]) for h in body["history"]]

    recipient = _recipient(login, case.id)
    assert recipient["since_month"] == "2026-04"  # approved in March: supported from the month after
    assert recipient["monthly_amount"] == "2232.00"
    assert recipient["status"] == "active"
    breakdown = recipient["breakdown"]
    assert (breakdown["basic"], breakdown["care"], breakdown["care_level"], breakdown["care_type"],
            breakdown["institution"]) == ("1813.50", "418.50", "partial_care", "centralised", "和平街道敬老院")
    assert "adjustment" not in breakdown
    detail = login("admin").get(f"recipients/{recipient['id']}")
    assert detail.status_code == 200 and detail.get_json()["program"] == "tekun"
    assert "2232.00" in PageClient(app, "admin").text(f"/recipients/{recipient['id']}")

    finance = login("cz_payer")
    march = finance.post("payment-runs", json={"program": "tekun", "month": "2026-03"})
    assert march.status_code == 201, march.get_json()
    assert march.get_json()["households"] == 0  # not yet paid in the month of approval
    april = finance.post("payment-runs", json={"program": "tekun", "month": "2026-04"})
    assert april.status_code == 201, april.get_json()
    assert april.get_json()["program"] == "tekun" and april.get_json()["households"] == 1
    lines = finance.get(f"payment-runs/{april.get_json()['id']}/payments?limit=100").get_json()["items"]
    assert [(line["recipient_id"], line["amount"]) for line in lines] == [(recipient["id"], "2232.00")]
    dibao = finance.post("payment-runs", json={"program": "dibao", "month": "2026-04"}).get_json()
    assert dibao["households"] == 0  # a 特困 recipient is never paid in the 低保 run

    from web.extensions import db
    from workflows.aid.models import AidRecord

    with app.app_context():
        aid = db.session.scalars(select(AidRecord).where(AidRecord.case_id == case.id)).one()
        assert (aid.program, aid.agency, aid.monthly, aid.period_from, aid.amount) == (
            "tekun", "区民政局", True, date(2026, 4, 1), Decimal("2232.00"))


def test_scenario__tekun_refused_when_a_supporter_can_support(login):
    case = Tekun(login, name="王大妈", details={"has_supporter": True, "supporter_note": "儿子在外地务工"})
    case.accept()
    case.investigate(supporter="able", supporter_note="儿子在本市有稳定工作，具备赡养能力")
    # The investigation found a ground of ineligibility: the street review cannot forward the case.
    response = case.street_review(decision="approve", expect=422).get_json()
    assert "有法定赡养、抚养、扶养义务人且其具有履行义务能力" in response["error"]["fields"]["decision"][0]
    case.street_review(decision="reject", opinion="有赡养义务人且具备赡养能力，不符合特困供养条件")
    assert case.stage_elements() == {"refusal_notice"}
    case.refusal_notice(reason="您的儿子具备赡养能力，不符合特困人员认定条件")
    body = case.case()
    assert body["status"] == "refused"
    assert body["refusal_reason"] == "您的儿子具备赡养能力，不符合特困人员认定条件"
    assert body["amount"] is None
    assert "有赡养义务人且具备赡养能力，不符合特困供养条件" in [h["opinion"] for h in body["history"]]


def test_scenario__tekun_objection_reinvestigates_and_is_always_visited(login):
    case = Tekun(login)
    case.through_street()
    advance(login, "P3D")
    response = login("sq_heping").post(f"cases/{case.id}/objections", json={"reason": "邻居反映其子女经常接济"})
    assert response.status_code == 201, response.get_json()
    assert case.stage_elements() == {"reinvestigation"}
    case.investigate("reinvestigation", supporter="unable", supporter_note="女儿重病，无赡养能力",
                     care=("unable",) * 4 + ("able",) * 2)
    case.street_review()
    assert case.case()["stage"] == "公示中"  # a new 7-day notice after the re-investigation
    advance(login, "P8D")
    assert case.spot_check_if_selected() is True  # objected cases are always visited
    case.approve(care_type="dispersed")
    case.set_up_payment()
    body = case.case()
    # 全护理 after the re-assessment: 1813.50 + 60% of 1395 = 837.00.
    assert body["status"] == "approved" and body["objected"] is True and body["spot_checked"] is True
    assert body["amount"] == 2650.5


def test_scenario__tekun_investigators_must_be_two_different_people(app, login):
    case = Tekun(login)
    case.accept()
    task = case.open_task("investigation", "jd_heping")
    form = login("jd_heping").get(f"tasks/{task['id']}").get_json()["form"]
    assert form["key"] == "tekun_investigation"
    schema = form["schema"]["properties"]
    assert schema["investigators"]["minItems"] == 2 and schema["investigators"]["uniqueItems"] is True
    assert schema["self_care_bathing"]["enum"] == ["able", "partly", "unable"]
    assert login("jd_heping").post(f"tasks/{task['id']}/claim").status_code == 200
    page = PageClient(app, "jd_heping").text(f"/tasks/{task['id']}")  # the claimed task's form, on the page
    assert all(label in page for label in ("自主吃饭", "自主上下床", "室内行走", "自主洗澡", "法定义务人"))
    for investigators in (["张伟"], ["张伟", "张伟"]):
        body = case.investigate(investigators=investigators, expect=422).get_json()
        assert body["error"]["fields"]["investigators"], body
    body = case.investigate(care=("able", "sometimes", "able", "able", "able", "able"), expect=422).get_json()
    assert body["error"]["fields"]["self_care_dressing"], body
    case.investigate()
    assert case.stage_elements() == {"street_review"}


def test_scenario__tekun_application_details_are_checked(login):
    community = login("sq_heping")
    missing = community.post("cases", json=tekun_application(details={}))
    assert missing.status_code == 422
    assert "details.has_supporter" in missing.get_json()["error"]["fields"]
    unexplained = community.post("cases", json=tekun_application(details={"has_supporter": True}))
    assert unexplained.status_code == 422
    assert "details.supporter_note" in unexplained.get_json()["error"]["fields"]
    wrong = community.post("cases", json=tekun_application(details={"has_supporter": False,
                                                                     "preferred_care": "hotel"}))
    assert "details.preferred_care" in wrong.get_json()["error"]["fields"]


def test_scenario__tekun_pays_multiples_of_the_dibao_standard_not_its_own(login):
    # The district's 特困 standard (2000) differs from its 低保 standard (1395): support is 1.3 × 低保.
    approver = login("qu_approver")
    own = approver.post("standards", json={"program": "tekun", "area": "urban", "amount": "2000",
                                           "effective_month": "2026-03"})
    assert own.status_code == 201, own.get_json()
    assert own.get_json()["households"] == 0  # 特困's own standard sets no amount
    # 1500 a month is below 特困's own 2000 but not below the 低保 standard: not without livelihood.
    refused = Tekun(login, name="李大爷", birth="1948-02-02")
    refused.accept()
    refused.investigate(income=1500.0, care=HALF_CARE)
    body = refused.street_review(decision="approve", expect=422).get_json()
    assert "不低于当地低保标准 1395.00 元" in body["error"]["fields"]["decision"][0]

    case = Tekun(login, name="赵大爷", birth="1947-03-03")
    case.through_street(care=HALF_CARE)
    assert case.case()["proposed_amount"] == 2232.0  # 1395 × 1.3 + 30% × 1395, not 2000 × 1.3 + 30% × 2000
    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve(care_type="dispersed")
    case.set_up_payment()
    recipient = _recipient(login, case.id)
    assert recipient["monthly_amount"] == "2232.00" and recipient["breakdown"]["standard"] == "1395.00"

    # A new 低保 standard recomputes 特困 recipients (1.3 × 1500 + 30% × 1500 = 2400); a 特困 one does not.
    proposal = {"program": "dibao", "area": "urban", "amount": "1500", "effective_month": "2026-05"}
    preview = approver.post("standards/preview", json=proposal).get_json()
    rows = {r["recipient_id"]: r for r in preview["rows"]}
    assert rows[recipient["id"]]["new_amount"] == "2400.00", preview
    tekun_own = approver.post("standards/preview", json={"program": "tekun", "area": "urban", "amount": "2500",
                                                         "effective_month": "2026-05"}).get_json()
    assert tekun_own["households"] == 0
    assert approver.post("standards", json=proposal).status_code == 201
    detail = login("admin").get(f"recipients/{recipient['id']}").get_json()
    assert detail["monthly_amount"] == "2400.00"
    assert [c["effective_month"] for c in detail["changes"] if c["kind"] == "standard"] == ["2026-05"]


def _task_row(app, case: Tekun, element_id: str):
    from engine.models import HumanTask
    from web.extensions import db

    with app.app_context():
        row = db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == case.instance_id, HumanTask.element_id == element_id)
            .order_by(HumanTask.id.desc())).first()
        db.session.expunge(row)
        db.session.remove()
    return row


def test_scenario__tekun_street_review_and_spot_check_have_deadlines(app, login):
    # DOMAIN.md: the district spot-checks and confirms within 15 working days — no step may wait unbounded.
    case = Tekun(login)
    case.accept(relatives=True)  # relatives filed: always spot-checked
    case.investigate()
    review = _task_row(app, case, "street_review")
    assert review.due_at is not None and review.escalate_to == "district_approver" and review.escalation_level == 0
    advance(login, "P9D")  # more than 5 working days
    review = _task_row(app, case, "street_review")
    assert review.escalation_level >= 1
    case.street_review()
    advance(login, "P8D")
    assert case.stage_elements() == {"spot_check"}
    check = _task_row(app, case, "spot_check")
    assert check.due_at is not None and check.escalate_to == "district_approver" and check.escalation_level == 0
    advance(login, "P16D")  # more than 10 working days
    check = _task_row(app, case, "spot_check")
    assert check.escalation_level >= 1

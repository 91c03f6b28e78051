"""workflows.register.standards: the standard in force (by area, with the urban fallback), preview without writes,
apply with one audited change per affected recipient and the cuts and adjustments kept."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.errors import Forbidden, InvalidInput
from tests.scenario import id_number
from tests.test_workflows__reviews import in_force

NOW = datetime.fromisoformat("2026-03-02T09:00:00+08:00")


@pytest.fixture
def session(app, db):
    with app.app_context():
        yield db.session
        db.session.rollback()


def _user(session, username):
    from workflows.models import User

    return session.scalars(select(User).where(User.username == username)).one()


def _recipient(session, *, area="urban", street="和平街道", status="active", cuts=(), adjustment=None,
               since="2026-01", end=None):
    from workflows.models import Case, CaseStatus
    from workflows.register.amounts import household_amount, with_adjustment
    from workflows.register.models import Recipient, RecipientStatus
    from workflows.register.standards import standard_in_force

    members = [{"name": "王五", "relation": "本人", "birth_date": "1980-01-01", "work_capacity": "partial"},
               {"name": "王小", "relation": "子", "birth_date": "2015-01-01", "work_capacity": "none"}]
    number = id_number("19800101")
    case = Case(program="dibao", district="示范区", street=street, community="和平里社区", applicant_name="王五",
                applicant_id_number=number, household={"members": members}, household_size=2,
                declared_monthly_income=Decimal(800), status=CaseStatus.APPROVED, created_by="t", created_at=NOW,
                updated_at=NOW, amount=Decimal("2269.00"))
    session.add(case)
    session.flush()
    standard = standard_in_force(session, "示范区", "dibao", area, "2026-01")
    amount, breakdown = household_amount({"members": members}, Decimal(800), standard, date(2026, 1, 1),
                                         cut_members=set(cuts))
    if adjustment is not None:
        breakdown = with_adjustment(breakdown, amount + Decimal(adjustment))
        amount = Decimal(breakdown["total"])
    recipient = Recipient(case_id=case.id, program="dibao", rule_set="dibao", district="示范区", street=street,
                          community="和平里社区", area=area, head_name="王五", head_id_number=number,
                          household={"members": members}, household_size=2, monthly_income=Decimal(800),
                          category="stable", monthly_amount=amount, breakdown=breakdown,
                          status=RecipientStatus(status), since_month=since, end_month=end, labour_refusals={},
                          created_at=NOW, updated_at=NOW)
    session.add(recipient)
    session.flush()
    return recipient


def test_standard_in_force_newest_by_month_and_urban_fallback(session):
    from workflows.models import LocalStandard
    from workflows.register.standards import standard_in_force

    session.add_all([LocalStandard(district="示范区", program="dibao", area="urban", amount=Decimal(1500),
                                   effective_from=date(2026, 6, 1)),
                     LocalStandard(district="示范区", program="dibao", area="rural", amount=Decimal(1200),
                                   effective_from=date(2026, 9, 1))])
    session.flush()
    assert standard_in_force(session, "示范区", "dibao", "urban", "2026-05").amount == Decimal(1395)
    assert standard_in_force(session, "示范区", "dibao", "urban", "2026-06").amount == Decimal(1500)
    # Rural: the urban standard until the district has a rural one in force.
    assert standard_in_force(session, "示范区", "dibao", "rural", "2026-08").amount == Decimal(1500)
    assert standard_in_force(session, "示范区", "dibao", "rural", "2026-09").amount == Decimal(1200)
    assert standard_in_force(session, "示范区", "dibao", "urban", "2024-06") is None
    assert standard_in_force(session, "别的区", "dibao", "urban", "2026-09") is None


def test_preview_writes_nothing_apply_changes_each_once(session):
    from workflows.models import LocalStandard
    from workflows.register.models import RecipientChange
    from workflows.register.standards import apply_standard, preview_standard

    plain = _recipient(session)
    rural = _recipient(session, area="rural")
    cut = _recipient(session, cuts={"0"})
    adjusted = _recipient(session, adjustment="31")
    stopped = _recipient(session, status="stopped")
    ended = _recipient(session, status="exiting", end="2026-04")
    session.commit()
    body = {"program": "dibao", "amount": "1500.00", "effective_month": "2026-04"}
    approver = _user(session, "qu_approver")
    preview = preview_standard(session, approver, body, NOW)
    assert {r["recipient_id"] for r in preview["rows"]} == {plain.id, rural.id, cut.id, adjusted.id}
    assert session.scalar(select(func.count()).select_from(LocalStandard)) == 3  # the seeded ones only
    assert session.scalar(select(func.count()).select_from(RecipientChange)) == 0
    result = apply_standard(session, approver, body, NOW)
    assert result["households"] == 4 and result["difference"] == preview["difference"]
    session.expire_all()
    # (1500 − 400) × 2 + 300 = 2500; the cut member's share stays cut: 1100 + 300 = 1400; the adjustment stays.
    assert plain.monthly_amount == Decimal("2500.00") and rural.monthly_amount == Decimal("2500.00")
    assert cut.monthly_amount == Decimal("1400.00") and cut.breakdown["cuts"][0]["member"] == "0"
    assert adjusted.monthly_amount == Decimal("2531.00") and adjusted.breakdown["adjustment"] == "31.00"
    assert stopped.monthly_amount == Decimal("2269.00") and ended.monthly_amount == Decimal("2269.00")
    changes = session.scalars(select(RecipientChange).order_by(RecipientChange.id)).all()
    assert [(c.recipient_id, c.kind, c.effective_month) for c in changes] == [
        (r.id, "standard", "2026-04") for r in (plain, rural, cut, adjusted)]
    assert changes[0].old_amount == Decimal("2269.00") and changes[0].actor == "qu_approver"


def test_rural_standard_recomputes_only_rural_and_starts_at_since_month(session):
    from workflows.register.standards import apply_standard

    urban = _recipient(session)
    rural = _recipient(session, area="rural", since="2026-06")
    session.commit()
    apply_standard(session, _user(session, "admin"),
                   {"program": "dibao", "area": "rural", "amount": 1000, "effective_month": "2026-03",
                    "district": "示范区", "district_share": "0.6", "topup_rates": {"minor": 0.25}}, NOW)
    session.expire_all()
    assert urban.monthly_amount == Decimal("2269.00")
    # (1000 − 400) × 2 + 25% × 1000; it counts from the recipient's first month, not before.
    assert rural.monthly_amount == Decimal("1450.00")
    assert rural.breakdown["topups"][0]["rate"] == "0.25"
    # Naming one category's rate keeps the others' (elderly, disability, illness) from the standard before it.
    from workflows.models import LocalStandard
    rates = session.scalars(select(LocalStandard.topup_rates).where(LocalStandard.area == "rural")).one()
    assert rates["minor"] == "0.25" and float(rates["elderly"]) == 0.3 and float(rates["severe_disability"]) == 0.3


def test_roles_and_bad_input(session):
    from workflows.register.standards import apply_standard, preview_standard

    body = {"program": "dibao", "amount": "1500", "effective_month": "2026-04"}
    with pytest.raises(Forbidden):
        apply_standard(session, _user(session, "cz_payer"), body, NOW)
    with pytest.raises(Forbidden):
        preview_standard(session, _user(session, "jd_heping"), body, NOW)
    with pytest.raises(InvalidInput) as info:
        preview_standard(session, _user(session, "qu_approver"), {"program": "dibao", "amount": "x",
                                                                  "effective_month": "2026-02"}, NOW)
    assert set(info.value.fields) == {"amount", "effective_month"}
    with pytest.raises(InvalidInput) as info:
        preview_standard(session, _user(session, "admin"), body, NOW)  # an admin names the district
    assert set(info.value.fields) == {"district"}
    with pytest.raises(InvalidInput) as info:
        preview_standard(session, _user(session, "qu_approver"), dict(body, effective_month="2024-07"), NOW)
    assert "effective_month" in info.value.fields


# -- standards and reviews: the newest row of every month reflects the standard in force in that month ----------

def _standard(login, month: str, amount: str) -> dict:
    response = login("qu_approver").post("standards", json={"program": "dibao", "amount": amount,
                                                            "effective_month": month})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _review_lowers(login, recipient_id: int, wage: int) -> None:
    """An income change starts a review; the survey finds `wage`; the district lowers the amount (2 March)."""
    from tests.test_scenario__reviews import ReviewDriver

    response = login("jd_heping").post(f"recipients/{recipient_id}/events", json={"type": "income_change"})
    assert response.status_code == 201, response.get_json()
    driver = ReviewDriver(login, recipient_id)
    driver.complete("review_survey", "jd_heping", {"investigators": ["张伟", "李强"], "income_from_work": False,
                                                   "income_items": [{"type": "wage", "amount": wage}],
                                                   "findings": "工资增加", "visited_on": "2026-03-02"})
    driver.decide("lower", "工资收入增加")


def test_a_review_after_a_standard_is_computed_under_it_and_later_standards_follow(app, login):
    """Scenario A: standards from April and June are applied, then a review lowers the amount from April."""
    from tests.test_scenario__reviews import new_recipient

    rid = new_recipient(app)
    _standard(login, "2026-04", "1500.00")
    _standard(login, "2026-06", "1600.00")
    assert in_force(app, rid, ("2026-04", "2026-06")) == [Decimal("2500.00"), Decimal("2720.00")]
    _review_lowers(login, rid, 1200)  # surveyed under March's 1395: 2 × 795 + 279 = 1869 < 2269, a lowering
    # April under April's standard: 2 × (1500 − 600) + 300; June under June's: 2 × (1600 − 600) + 320.
    assert in_force(app, rid, ("2026-03", "2026-04", "2026-05", "2026-06")) == [
        Decimal("2269.00"), Decimal("2100.00"), Decimal("2100.00"), Decimal("2320.00")]
    from tests.test_scenario__reviews import recipient_state

    recipient, changes = recipient_state(app, rid)
    review = next(c for c in changes if c.kind == "review")
    assert (review.effective_month, review.new_amount, review.details["standard"]) == ("2026-04",
                                                                                       Decimal("2100.00"), "1500.00")
    assert [(c.kind, c.effective_month) for c in changes[changes.index(review):]] == [
        ("review", "2026-04"), ("standard", "2026-06")]
    assert recipient.monthly_amount == Decimal("2320.00")


def test_a_standard_after_a_review_rewrites_the_reviews_month_too(app, login):
    """Scenario B: a review decided in March lowers from April (old standard); a standard from March applied
    after it is written for March (with the income before the review) and again for April."""
    from tests.test_scenario__reviews import new_recipient, recipient_state

    rid = new_recipient(app)
    _review_lowers(login, rid, 1200)
    assert in_force(app, rid, ("2026-03", "2026-04")) == [Decimal("2269.00"), Decimal("1869.00")]
    result = _standard(login, "2026-03", "1500.00")
    row = next(r for r in result["rows"] if r["recipient_id"] == rid)
    assert (row["effective_month"], row["new_amount"]) == ("2026-03", "2500.00")
    assert row["later_months"] == [{"effective_month": "2026-04", "new_amount": "2100.00"}]
    # March: 2 × (1500 − 400) + 300 (the income of 1200 counts from April); April on: 2 × (1500 − 600) + 300.
    assert in_force(app, rid, ("2026-03", "2026-04", "2026-05")) == [
        Decimal("2500.00"), Decimal("2100.00"), Decimal("2100.00")]
    _recipient, changes = recipient_state(app, rid)
    assert [(c.kind, c.effective_month) for c in changes if c.kind == "standard"] == [
        ("standard", "2026-03"), ("standard", "2026-04")]

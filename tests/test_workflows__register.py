"""workflows.register: review schedule and category, amounts with breakdown, enrolment on approval."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from engine.models import ProcessInstance
from tests.scenario import Dibao, advance
from workflows.register.amounts import household_amount, with_adjustment
from workflows.register.review_schedule import category_of, next_review_due, review_interval_months

TODAY = date(2026, 11, 16)


def member(birth="1980-05-01", capacity="partial", **extra):
    return {"name": "成员", "relation": "本人", "birth_date": birth, "work_capacity": capacity, **extra}


@pytest.mark.parametrize("category, rule_set, area, months", [
    ("stable", "dibao", "urban", 6), ("stable", "dibao", "rural", 6),
    ("sanwu", "dibao", "urban", 12), ("serious", "dibao", "rural", 12),
    ("unstable_working", "dibao", "urban", 1), ("unstable_working", "dibao", "rural", 3),
    ("sanwu", "dibao_2021", "urban", 12), ("serious", "dibao_2021", "urban", 12),
    ("stable", "dibao_2021", "rural", 6), ("unstable_working", "dibao_2021", "urban", 6),
    ("unstable_working", "dibao_2021", "rural", 6),
])
def test_review_interval_by_rules(category, rule_set, area, months):
    assert review_interval_months(category, rule_set, area) == months


def test_next_review_due_clamps_to_month_end_and_unknown_category_refused():
    assert next_review_due("stable", "dibao", "urban", date(2026, 8, 31)) == date(2027, 2, 28)
    assert next_review_due("unstable_working", "dibao", "urban", date(2026, 1, 31)) == date(2026, 2, 28)
    with pytest.raises(ValueError, match="复核类别"):
        review_interval_months("rich", "dibao", "urban")


def test_category_of_household():
    alone_no_capacity = {"members": [member("1950-01-01", "none")]}
    assert category_of(alone_no_capacity, monthly_income=0, today=TODAY) == "sanwu"
    # With a pension it is not 三无; no one able to work, nobody seriously ill → stable.
    assert category_of(alone_no_capacity, monthly_income=650, today=TODAY) == "stable"
    ill = {"members": [member(serious_illness=True), member("2015-01-01", "none")]}
    assert category_of(ill, monthly_income=900, today=TODAY) == "serious"
    disabled = {"members": [member(disability_grade=2)]}
    assert category_of(disabled, monthly_income=900, today=TODAY) == "serious"
    assert category_of({"members": [member(disability_grade=3)]}, monthly_income=900, today=TODAY) == "stable"
    # A working-age member able to work: unstable income unless the survey says otherwise; wins over "serious".
    working = {"members": [member(capacity="full"), member(serious_illness=True, capacity="none")]}
    assert category_of(working, monthly_income=900, today=TODAY) == "unstable_working"
    assert category_of(working, {"income_stable": True}, monthly_income=900, today=TODAY) == "serious"
    # Full capacity at 65 is not working age.
    assert category_of({"members": [member("1960-01-01", "full")]}, monthly_income=900, today=TODAY) == "stable"


def test_household_amount_breakdown_cuts_and_adjustment():
    household = {"members": [member("1950-01-01", relation="本人"), member("2015-01-01", "none", relation="孙子"),
                             member(capacity="full", relation="子")]}
    standard = SimpleNamespace(amount=Decimal("1000"), topup_rates={"elderly": 0.3, "minor": 0.2},
                               area="rural", effective_from=date(2026, 7, 1))
    amount, breakdown = household_amount(household, Decimal("600"), standard, TODAY)
    assert amount == Decimal("2900.00")
    assert breakdown == {
        "standard": "1000.00", "area": "rural", "standard_from": "2026-07", "household_income": "600.00",
        "members": 3, "per_capita_income": "200.00", "base": "2400.00",
        "topups": [{"member": "0", "relation": "本人", "category": "elderly", "rate": "0.3", "amount": "300.00"},
                   {"member": "1", "relation": "孙子", "category": "minor", "rate": "0.2", "amount": "200.00"}],
        "cuts": [], "total": "2900.00"}
    cut_amount, cut = household_amount(household, Decimal("600"), standard, TODAY, cut_members={"2"})
    assert cut_amount == Decimal("2100.00") and cut["cuts"] == [{"member": "2", "relation": "子", "amount": "800.00"}]
    adjusted = with_adjustment(breakdown, Decimal("3000"))
    assert adjusted["adjustment"] == "100.00" and adjusted["computed"] == "2900.00" and adjusted["total"] == "3000.00"
    assert with_adjustment(breakdown, Decimal("2900.00")) == breakdown


def test_enrolment_once_with_approver_adjustment_and_rural_area(app, login):
    from web.extensions import db
    from workflows.listener import current_data
    from workflows.models import Case, Jurisdiction
    from workflows.register.enrolment import area_of, enrol
    from workflows.register.models import Recipient, RecipientChange

    with app.app_context():
        street = db.session.scalars(select(Jurisdiction).where(Jurisdiction.name == "和平街道")).one()
        street.area = "rural"  # its communities inherit it
        db.session.commit()
        assert area_of(db.session, "示范区", "和平街道", "和平里社区") == "rural"
        assert area_of(db.session, "示范区", "安定街道", "安定门社区") == "urban"
        assert area_of(db.session, "示范区", "无此街道", "无此社区") == "urban"
    case = Dibao(login, members=2, income=800.0)
    case.through_street(income=800.0)
    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve(amount=2300)
    # Not yet on the register: the process ends with the payment setup.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Recipient)) == 0
    case.set_up_payment()
    with app.app_context():
        recipient = db.session.scalars(select(Recipient).where(Recipient.case_id == case.id)).one()
        assert recipient.area == "rural" and recipient.rule_set == "dibao" and recipient.since_month == "2026-04"
        assert recipient.monthly_amount == Decimal("2300.00") and isinstance(recipient.monthly_amount, Decimal)
        assert recipient.breakdown["computed"] == "2269.00" and recipient.breakdown["adjustment"] == "31.00"
        assert recipient.bank_name == "北京银行" and recipient.account_number == "6222000011112222"
        assert recipient.monthly_income == Decimal("800.00") and recipient.household_size == 2
        # Enrolling again (a retried step, a replayed listener) answers the same recipient.
        row = db.session.get(Case, case.id)
        instance = db.session.get(ProcessInstance, row.process_instance_id)
        instance_data = current_data(app.extensions["jiuzhu.engine"].workflow_of(instance))
        again = enrol(db.session, row, instance_data, rule_set="dibao", actor="x", now=recipient.created_at)
        assert again.id == recipient.id
        db.session.flush()
        assert db.session.scalar(select(func.count()).select_from(Recipient)) == 1
        assert db.session.scalar(select(func.count()).select_from(RecipientChange)) == 1
        db.session.rollback()


def test_refused_case_is_not_enrolled(app, login):
    from web.extensions import db
    from workflows.register.models import Recipient

    case = Dibao(login)
    case.through_street()
    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve(decision="reject", opinion="不符合条件")
    case.refusal_notice()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Recipient)) == 0

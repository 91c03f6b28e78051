"""临时救助 tier arithmetic (workflows.linshi): limits as Decimal multiples of the 低保 standard, to the fen, with
the boundaries where they belong; the income test; the joint-review tally."""
from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import ValidationError

from workflows.linshi import LinshiDetails, Tiers, income_test
from workflows.linshi_steps import linshi_joint_outcome

DEMO = Tiers(standard=Decimal("1395.00"))


def test_tiers__default_multiples_of_the_standard():
    assert DEMO.street_limit == Decimal("4185.00") and DEMO.joint_limit == Decimal("13950.00")
    assert isinstance(DEMO.street_limit, Decimal)


@pytest.mark.parametrize(("amount", "tier"), [
    ("0.01", "street"), ("4185.00", "street"), ("4185.01", "district"), (4185, "street"),
    ("13950.00", "district"), ("13950.01", "joint"), (100000, "joint"),
])
def test_tiers__boundaries_belong_to_the_lower_tier(amount, tier):
    assert DEMO.tier_of(amount) == tier


def test_tiers__fractional_multiples_round_to_the_fen():
    tiers = Tiers(standard=Decimal("1333.33"), street_multiple=Decimal("2.5"), joint_multiple=Decimal("7.25"))
    # 1333.33 × 2.5 = 3333.325 → 3333.33 (half up); × 7.25 = 9666.6425 → 9666.64
    assert tiers.street_limit == Decimal("3333.33") and tiers.joint_limit == Decimal("9666.64")
    # A float amount goes through str(): 0.1 + 0.2 is 0.30000000000000004, still 0.30 yuan.
    assert tiers.tier_of(0.1 + 0.2) == "street"
    assert tiers.tier_of(3333.33) == "street" and tiers.tier_of(3333.34) == "district"


def test_tiers__refusals_name_the_tier():
    assert DEMO.over_street_limit("4185.00") is None
    assert DEMO.over_street_limit("4185.01") == "超出街道审批限额（3 倍低保标准 = 4185.00 元），须报区民政局审批"
    assert DEMO.over_district_limit("13950.00") is None
    assert DEMO.over_district_limit(20000) == "超出区民政局审批限额（10 倍低保标准 = 13950.00 元），须提请一事一议"
    half = Tiers(standard=Decimal("1000"), street_multiple=Decimal("2.50"))
    assert half.over_street_limit(3000) == "超出街道审批限额（2.5 倍低保标准 = 2500.00 元），须报区民政局审批"


def test_tiers__round_trip_through_task_data():
    tiers = Tiers(standard=Decimal("1395"), street_multiple=Decimal("2.5"), average_income=Decimal("3125.50"))
    data = tiers.as_data()
    assert data == {"standard": 1395.0, "street_multiple": 2.5, "joint_multiple": 10.0, "street_limit": 3487.5,
                    "joint_limit": 13950.0, "average_income": 3125.5}
    assert Tiers.from_data(data) == Tiers(standard=Decimal("1395.00"), street_multiple=Decimal("2.5"),
                                          joint_multiple=Decimal("10.0"), average_income=Decimal("3125.50"))


def test_income_test__per_capita_strictly_below_the_average():
    average = Decimal("3000.00")
    assert income_test(5999.99, 2, average).passed is True  # 2999.995 a person, shown as 3000.00
    at_line = income_test("6000", 2, average)
    assert at_line.passed is False and at_line.per_capita == Decimal("3000.00")
    assert at_line.reason == ("家庭人均月收入 3000.00 元，不低于上年度当地居民人均月收入 3000.00 元，"
                              "不符合支出型临时救助条件")
    assert income_test(1000, 3, average).per_capita == Decimal("333.33")
    with pytest.raises(ValueError):
        income_test(1000, 0, average)


def test_joint_outcome__all_must_agree():
    members = ["a", "b", "c"]
    agree = [{"member": m, "decision": "approve", "opinion": "同意"} for m in members]
    assert linshi_joint_outcome(agree, members) == {"agreed": True, "votes": 3, "dissent": 0, "reason": None}
    one_no = agree[:2] + [{"member": "c", "decision": "reject", "opinion": "金额过高"}]
    outcome = linshi_joint_outcome(one_no, members)
    assert outcome["agreed"] is False and outcome["reason"] == "一事一议未通过：c：金额过高"
    assert linshi_joint_outcome(agree[:2], members)["agreed"] is False  # a member who did not sign
    assert linshi_joint_outcome([], [])["agreed"] is False


def test_details__kind_amount_reason():
    loaded = LinshiDetails().load({"kind": "emergency", "requested_amount": "1200.5", "reason": "火灾"})
    assert loaded["requested_amount"] == Decimal("1200.50")
    with pytest.raises(ValidationError) as exc:
        LinshiDetails().load({"kind": "x", "requested_amount": "1.001", "reason": "r"})
    assert set(exc.value.messages) == {"kind", "requested_amount"}

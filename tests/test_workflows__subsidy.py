"""workflows.subsidy: the 低保 gap formula, 分类施保 top-ups and rounding."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from workflows.subsidy import (
    DEFAULT_TOPUP_RATES,
    compute_subsidy,
    member_categories,
    per_capita_income,
    subsidy_parts,
)

TODAY = date(2024, 3, 1)


def adult(**extra):
    return {"name": "成员", "relation": "本人", "birth_date": "1980-06-01", "work_capacity": "full", **extra}


def household(*members, income=0):
    return {"members": list(members), "monthly_income": income, "assets": {}}


def test_base_is_the_gap_times_members():
    h = household(adult(), adult(), adult())
    # Per capita 400 → gap 600 → 1800 for three people.
    assert compute_subsidy(h, 1200, 1000, today=TODAY) == 1800.0
    assert per_capita_income(h, 1200) == 400.0


def test_no_income_gets_the_full_standard():
    assert compute_subsidy(household(adult()), 0, 1395, today=TODAY) == 1395.0


@pytest.mark.parametrize("income", [3000, 3000.01, 10_000])
def test_income_at_or_above_the_standard_gets_nothing_not_even_topups(income):
    h = household(adult(birth_date="1940-01-01"), adult(birth_date="2015-01-01", relation="子"), adult())
    assert compute_subsidy(h, income, 1000, today=TODAY) == 0.0


def test_exact_per_capita_is_not_rounded_before_multiplying():
    # 1000 / 3 per head; rounding that to 333.33 first would give 2000.01 instead of 2000.00.
    assert compute_subsidy(household(adult(), adult(), adult()), 1000, 1000, today=TODAY) == 2000.0


def test_rounds_half_up_to_fen():
    # gap 0.005 per head × 1 = 0.005 → 0.01 (banker's rounding would give 0.00).
    assert compute_subsidy(household(adult()), 999.995, 1000, today=TODAY) == Decimal("0.01")
    assert per_capita_income(household(adult(), adult(), adult()), 100) == Decimal("33.33")


def test_float_inputs_do_not_leak_binary_error():
    # 0.1 + 0.2 style inputs: 1000.3 − 0.1 must be 1000.2, not 1000.1999….
    assert compute_subsidy(household(adult()), 0.1, 1000.3, today=TODAY) == Decimal("1000.20")


def test_topups_as_share_of_standard_only_highest_per_member():
    members = [
        adult(birth_date="1950-02-03", disability_grade=2),   # elderly 30% and disabled 30% → 30%
        adult(birth_date="2014-07-08", serious_illness=True),  # minor 20% beats illness 10%
        adult(serious_illness=True),                            # illness 10%
        adult(disability_grade=3),                              # grade 3 is not severe
    ]
    h = household(*members)
    base = (1000 - 2000 / 4) * 4
    assert compute_subsidy(h, 2000, 1000, today=TODAY) == base + 300 + 200 + 100


def test_age_boundaries_use_the_birthday():
    turning_60_tomorrow = adult(birth_date="1964-03-02")
    sixty_today = adult(birth_date="1964-03-01")
    turning_18_today = adult(birth_date="2006-03-01")
    seventeen = adult(birth_date="2006-03-02")
    assert member_categories(turning_60_tomorrow, TODAY) == []
    assert member_categories(sixty_today, TODAY) == ["elderly"]
    assert member_categories(turning_18_today, TODAY) == []
    assert member_categories(seventeen, TODAY) == ["minor"]


def test_without_today_age_field_is_used_or_age_topups_skipped():
    h = household(adult(birth_date="1940-01-01"), adult(birth_date="1941-01-01", age=83),
                  adult(birth_date="1942-01-01", disability_grade=1))
    base = 3 * 1000
    # No date: the first member's age is unknown (no top-up), the second says 83, the third is disabled.
    assert compute_subsidy(h, 0, 1000) == base + 300 + 300
    assert compute_subsidy(h, 0, 1000, today=TODAY) == base + 900


def test_today_is_keyword_only():
    with pytest.raises(TypeError):
        compute_subsidy(household(adult()), 0, 1000, None, TODAY)  # type: ignore[misc]


def test_configurable_rates_replace_the_defaults():
    h = household(adult(birth_date="1940-01-01"), adult(serious_illness=True))
    assert compute_subsidy(h, 0, 1000, {"elderly": 0.5}, today=TODAY) == 2000 + 500
    assert compute_subsidy(h, 0, 1000, {}, today=TODAY) == 2000
    assert compute_subsidy(h, 0, 1000, None, today=TODAY) == 2000 + 300 + 100
    assert DEFAULT_TOPUP_RATES == {"elderly": 0.3, "minor": 0.2, "severe_disability": 0.3, "serious_illness": 0.1}


def test_disability_grade_as_text_and_bad_values():
    assert member_categories(adult(disability_grade="1")) == ["severe_disability"]
    assert member_categories(adult(disability_grade="一级")) == []
    assert member_categories(adult(disability_grade=None)) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"household": household(), "monthly_income": 0, "local_standard": 1000}, "家庭成员"),
    ({"household": household(adult()), "monthly_income": -1, "local_standard": 1000}, "负数"),
    ({"household": household(adult()), "monthly_income": 0, "local_standard": 0}, "标准"),
    ({"household": household(adult()), "monthly_income": "abc", "local_standard": 1000}, "数字"),
    ({"household": household(adult()), "monthly_income": None, "local_standard": 1000}, "数字"),
    ({"household": household(adult(birth_date="1940-01-01")), "monthly_income": 0, "local_standard": 1000,
      "topup_rates": {"elderly": -0.1}}, "负数"),
])
def test_bad_input_raises_in_chinese(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_subsidy(**kwargs, today=TODAY)


def test_amounts_are_decimals_with_two_places():
    amount = compute_subsidy(household(adult(), adult(), adult()), 1000, 1000, today=TODAY)
    assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2 and amount == Decimal("2000.00")
    assert compute_subsidy(household(adult()), 5000, 1000, today=TODAY) == Decimal("0.00")


def test_parts_name_each_members_topup_and_cuts_remove_a_share():
    h = household(adult(birth_date="1940-01-01"), adult(birth_date="2015-01-01"), adult())
    parts = subsidy_parts(h, 600, 1000, today=TODAY)
    assert [(t.member, t.category, t.rate) for t in parts.topups] == [("0", "elderly", Decimal("0.3")),
                                                                        ("1", "minor", Decimal("0.2"))]
    assert parts.base == Decimal(2400) and parts.amount == Decimal("2900.00")
    # Member "2" refused labour three times: their gap share (800) goes; the per-capita income still counts them.
    cut = subsidy_parts(h, 600, 1000, today=TODAY, cut_members={"2", "9"})
    assert cut.cut == ["2"] and cut.base == Decimal(1600) and cut.amount == Decimal("2100.00")
    assert cut.cut_amount == Decimal(800)
    # Cutting a member with a top-up removes the top-up too.
    assert subsidy_parts(h, 600, 1000, today=TODAY, cut_members={"0"}).amount == Decimal("1800.00")

"""When a recipient is next reviewed (定期复核): by the household's category, the rule set and urban / rural.

2012 rules (rule set ``dibao``, 民发〔2012〕220号): households whose income hardly changes every 6 months; 三无
persons and households with a seriously ill or seriously disabled member whose income hardly changes yearly;
households with a member able to work and an income that is not fixed monthly in cities, quarterly in rural areas.
2021 rules (``dibao_2021``, 民发〔2021〕57号): 三无 / seriously ill or disabled yearly, everyone else every 6 months.

The category is derived from the members, because the forms record no "income is stable" or "no supporter" flag
(the survey form belongs to the income work). Where the data cannot tell, the rule that reviews *more* often wins:
- ``sanwu`` (三无): a single person with no work capacity and no income at all;
- ``unstable_working``: a member of working age (18–59) with full work capacity, unless the survey data says
  ``income_stable: true`` (a key the survey may add later);
- ``serious``: a member with disability grade 1–2 or a serious illness (and nobody able to work as above);
- ``stable``: everyone else.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from ..subsidy import ADULT_AGE, ELDERLY_AGE, member_categories
from .months import add_months_to_date

CATEGORIES = ("stable", "sanwu", "serious", "unstable_working")
CATEGORY_NAMES = {"stable": "收入稳定", "sanwu": "三无人员", "serious": "重病重残", "unstable_working": "有劳动能力收入不固定"}
RULES_2021 = frozenset({"dibao_2021"})


def review_interval_months(category: str, rule_set: str, area: str) -> int:
    """Months between two periodic reviews; ValueError for an unknown category."""
    if category not in CATEGORIES:
        raise ValueError(f"未知的复核类别：{category}")
    if category in ("sanwu", "serious"):
        return 12
    if rule_set in RULES_2021 or category == "stable":
        return 6
    return 3 if area == "rural" else 1


def next_review_due(category: str, rule_set: str, area: str, from_day: date) -> date:
    """The day the next periodic review is due, counted from `from_day` (approval or the last review)."""
    return add_months_to_date(from_day, review_interval_months(category, rule_set, area))


def _working_age_and_able(member: Mapping, today: date | None) -> bool:
    if member.get("work_capacity") != "full":
        return False
    ages = member_categories(member, today)
    if "elderly" in ages or "minor" in ages:
        return False
    # Without a date the age is unknown; an explicit age outside 18–59 excludes, otherwise count as working age.
    age = member.get("age")
    return not (isinstance(age, int) and not ADULT_AGE <= age < ELDERLY_AGE)


def category_of(household: Mapping, survey: Mapping | None = None, *, monthly_income=None,
                today: date | None = None) -> str:
    """stable | sanwu | serious | unstable_working for a household (see the module docstring)."""
    members = list(household.get("members") or [])
    survey = survey or {}
    income = Decimal(str(monthly_income)) if monthly_income is not None else None
    if len(members) == 1 and members[0].get("work_capacity") == "none" and income == 0:
        return "sanwu"
    if survey.get("income_stable") is not True and any(_working_age_and_able(m, today) for m in members):
        return "unstable_working"
    for member in members:
        categories = member_categories(member, today)
        if "severe_disability" in categories or "serious_illness" in categories:
            return "serious"
    return "stable"

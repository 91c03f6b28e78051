"""低保 monthly amount: the gap to the local standard times household size, plus 分类施保 top-ups.

Money is computed with ``Decimal`` and rounded once, at the end, to whole fen (ROUND_HALF_UP), so the amount a
household sees never depends on binary floating point or on the order members are listed.

Ages and ``today``: the top-ups for the elderly (60 and over) and minors (under 18) depend on the date the amount is
computed. Pass ``today`` (the engine passes its clock's date) to derive ages from each member's ``birth_date``.
When ``today`` is None — e.g. when a BPMN script calls the function directly — a member's explicit ``age`` field is
used if present, otherwise the age-based top-ups are skipped for that member; the other top-ups still apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

DEFAULT_TOPUP_RATES: dict[str, float] = {
    "elderly": 0.3,
    "minor": 0.2,
    "severe_disability": 0.3,
    "serious_illness": 0.1,
}

ELDERLY_AGE = 60
ADULT_AGE = 18
_FEN = Decimal("0.01")


def _dec(value, what: str) -> Decimal:
    # str() first: Decimal(0.1) would carry the float's binary error into the money maths.
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}必须是数字")
    try:
        result = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"{what}必须是数字") from exc
    if not result.is_finite():
        raise ValueError(f"{what}必须是有限数字")
    return result


def _members(household: Mapping) -> list:
    members = household.get("members") or []
    if not members:
        raise ValueError("家庭成员不能为空")
    return list(members)


def _per_capita(household: Mapping, monthly_income) -> Decimal:
    income = _dec(monthly_income, "家庭月收入")
    if income < 0:
        raise ValueError("家庭月收入不能为负数")
    return income / len(_members(household))


def per_capita_income(household: Mapping, monthly_income: float) -> float:
    """Household per-capita monthly income in yuan, rounded to fen (for display; the amount uses the exact value)."""
    return float(_per_capita(household, monthly_income).quantize(_FEN, rounding=ROUND_HALF_UP))


def _birth_date(value) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


def _age(member: Mapping, today: date | None) -> int | None:
    born = _birth_date(member.get("birth_date"))
    if today is not None and born is not None:
        had_birthday = (today.month, today.day) >= (born.month, born.day)
        return today.year - born.year - (0 if had_birthday else 1)
    age = member.get("age")
    if age is None or isinstance(age, bool):
        return None
    return int(age)


def _is_severely_disabled(member: Mapping) -> bool:
    grade = member.get("disability_grade")
    if grade is None or isinstance(grade, bool) or grade == "":
        return False
    try:
        # Grades 1 and 2 are 重度 under the national disability classification.
        return int(grade) in (1, 2)
    except (TypeError, ValueError):
        return False


def member_categories(member: Mapping, today: date | None = None) -> list[str]:
    """The 分类施保 categories a member falls into (keys of the top-up rate table)."""
    categories = []
    age = _age(member, today)
    if age is not None:
        if age >= ELDERLY_AGE:
            categories.append("elderly")
        elif age < ADULT_AGE:
            categories.append("minor")
    if _is_severely_disabled(member):
        categories.append("severe_disability")
    if member.get("serious_illness"):
        categories.append("serious_illness")
    return categories


def _rate(rates: Mapping[str, float], category: str) -> Decimal:
    rate = _dec(rates[category], f"分类施保比例（{category}）")
    if rate < 0:
        raise ValueError(f"分类施保比例（{category}）不能为负数")
    return rate


def compute_subsidy(
    household: Mapping,
    monthly_income: float,
    local_standard: float,
    topup_rates: Mapping[str, float] | None = None,
    *,
    today: date | None = None,
) -> float:
    """Monthly 低保 amount in yuan for a household.

    base = max(0, local_standard − per-capita income) × members, where per-capita income is the household's
    total ``monthly_income`` divided by ``len(household['members'])``. Each member adds ``rate × local_standard``
    for the single highest-rated category they fall into (elderly, minor, severe disability, serious illness);
    a household whose income reaches the standard gets nothing, top-ups included.

    ``topup_rates`` replaces ``DEFAULT_TOPUP_RATES`` as a whole (a district's table is complete: a category it
    leaves out earns no top-up). See the module docstring for how ``today`` affects the age-based top-ups.
    """
    standard = _dec(local_standard, "当地低保标准")
    if standard <= 0:
        raise ValueError("当地低保标准必须大于 0")
    members = _members(household)
    gap = standard - _per_capita(household, monthly_income)
    if gap <= 0:
        return 0.0
    base = gap * len(members)

    rates = DEFAULT_TOPUP_RATES if topup_rates is None else topup_rates
    topups = Decimal(0)
    for member in members:
        applicable = [_rate(rates, c) for c in member_categories(member, today) if c in rates]
        if applicable:
            topups += standard * max(applicable)
    return float((base + topups).quantize(_FEN, rounding=ROUND_HALF_UP))

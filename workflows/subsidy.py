"""低保 monthly amount: the gap to the local standard times household size, plus 分类施保 top-ups.

Money is computed with ``Decimal`` and rounded once, at the end, to whole fen (ROUND_HALF_UP), so the amount a
household sees never depends on binary floating point or on the order members are listed.

Ages and ``today``: the top-ups for the elderly (60 and over) and minors (under 18) depend on the date the amount is
computed. Pass ``today`` (the engine passes its clock's date) to derive ages from each member's ``birth_date``.
When ``today`` is None — e.g. when a BPMN script calls the function directly — a member's explicit ``age`` field is
used if present, otherwise the age-based top-ups are skipped for that member; the other top-ups still apply.

Every function here returns ``Decimal``. Workflow data cannot hold a ``Decimal`` (the engine's serializer knows
JSON types only), so the BPMN script function in workflows.functions hands the amount to the process as a JSON
number; a 2-place amount survives float → ``Decimal(str(x))`` exactly, which is how workflows.listener reads it.

Members are identified by their index in ``household["members"]`` as a string ("0", "1", …): the same key the
household table of the acceptance and survey forms uses (workflows.tasks.household.members_on_file).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
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


def to_fen(value: Decimal) -> Decimal:
    """Round once, to whole fen, half up."""
    return value.quantize(_FEN, rounding=ROUND_HALF_UP)


def per_capita_income(household: Mapping, monthly_income) -> Decimal:
    """Household per-capita monthly income in yuan, rounded to fen (for display; the amount uses the exact value)."""
    return to_fen(_per_capita(household, monthly_income))


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


@dataclass
class Topup:
    member: str  # the member key: index in household["members"], as a string
    category: str
    rate: Decimal
    amount: Decimal  # exact (standard × rate), not rounded


@dataclass
class Subsidy:
    """The parts of a monthly amount, exact; only `amount` is rounded (once, to fen)."""

    standard: Decimal
    members: int
    per_capita: Decimal
    gap: Decimal  # standard − per-capita income, 0 when income reaches the standard
    base: Decimal  # gap × members not cut
    topups: list[Topup] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)  # member keys whose share is removed
    cut_amount: Decimal = Decimal(0)  # what the cuts removed (their gap share and top-up)
    amount: Decimal = Decimal("0.00")


def subsidy_parts(
    household: Mapping,
    monthly_income,
    local_standard,
    topup_rates: Mapping[str, float] | None = None,
    *,
    today: date | None = None,
    cut_members: Collection[str] = (),
) -> Subsidy:
    """The amount and how it is made up; see `compute_subsidy`. A member in `cut_members` (keys "0", "1", …) keeps
    counting for the per-capita income but loses their share: their gap share and their top-up."""
    standard = _dec(local_standard, "当地低保标准")
    if standard <= 0:
        raise ValueError("当地低保标准必须大于 0")
    members = _members(household)
    per_capita = _per_capita(household, monthly_income)
    cut = sorted({str(k) for k in cut_members} & {str(i) for i in range(len(members))}, key=int)
    gap = standard - per_capita
    if gap <= 0:
        return Subsidy(standard, len(members), per_capita, Decimal(0), Decimal(0), cut=cut)
    rates = DEFAULT_TOPUP_RATES if topup_rates is None else topup_rates
    result = Subsidy(standard, len(members), per_capita, gap, gap * (len(members) - len(cut)), cut=cut)
    result.cut_amount = gap * len(cut)
    topups = Decimal(0)
    for index, member in enumerate(members):
        applicable = [(_rate(rates, c), c) for c in member_categories(member, today) if c in rates]
        if not applicable:
            continue
        rate, category = max(applicable, key=lambda pair: pair[0])  # only the highest applies
        line = Topup(str(index), category, rate, standard * rate)
        if line.member in cut:
            result.cut_amount += line.amount
            continue
        result.topups.append(line)
        topups += line.amount
    result.amount = to_fen(result.base + topups)
    return result


def compute_subsidy(
    household: Mapping,
    monthly_income,
    local_standard,
    topup_rates: Mapping[str, float] | None = None,
    *,
    today: date | None = None,
) -> Decimal:
    """Monthly 低保 amount in yuan for a household (a ``Decimal`` with 2 places).

    base = max(0, local_standard − per-capita income) × members, where per-capita income is the household's
    total ``monthly_income`` divided by ``len(household['members'])``. Each member adds ``rate × local_standard``
    for the single highest-rated category they fall into (elderly, minor, severe disability, serious illness);
    a household whose income reaches the standard gets nothing, top-ups included.

    ``topup_rates`` replaces ``DEFAULT_TOPUP_RATES`` as a whole (a district's table is complete: a category it
    leaves out earns no top-up). See the module docstring for how ``today`` affects the age-based top-ups.
    """
    return subsidy_parts(household, monthly_income, local_standard, topup_rates, today=today).amount

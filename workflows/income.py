"""收入认定: which income counts for 低保, and the problems the street review must decide before it passes a case.

A household's income is recorded as items, each of one type (INCOME_TYPES), in **yuan per month**. A type is
*counted* (wages, business, property and transfer income such as maintenance payments or pensions), *excluded*
(scholarships and study grants, social-assistance payments, family-planning rewards, benefits of 优抚对象 — the
policy says these are not income for the test) or *deducted* (the household's rigid costs of illness or disability,
and the necessary costs of going to work). So

    countable = gross − excluded − deducted, never below 0,

where gross is every item received (counted and excluded). The survey form and the economic check go through the
same function, so the street never applies one rule to its own figure and another to the agencies' figure.

All arithmetic is Decimal, rounded once to the fen (ROUND_HALF_UP). Workflow data is JSON, so figures leave this
module as numbers with at most two decimals (`as_number`) and are read back with `to_decimal`.

The assessment (`assess`) compares both figures with the local standard and raises **flags**: a failed economic
check, a failed asset test, an assessed per-capita income at or above the standard, and a survey/check discrepancy
beyond the tolerance. The street review has to decide every flag with an opinion (`check_flag_decisions`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from engine.models import ProcessInstance, TaskStatus
from engine.task_actions import ready_spiff_task

from . import messages

COUNTED, EXCLUDED, DEDUCTED = "counted", "excluded", "deducted"
TREATMENTS = {COUNTED: "计入收入", EXCLUDED: "不计入收入", DEDUCTED: "从收入中扣减"}


@dataclass(frozen=True)
class IncomeType:
    key: str
    label: str
    treatment: str


INCOME_TYPES: dict[str, IncomeType] = {t.key: t for t in (
    IncomeType("wage", "工资性收入", COUNTED),
    IncomeType("business", "经营性收入", COUNTED),
    IncomeType("property", "财产性收入（租金、利息等）", COUNTED),
    IncomeType("support", "赡养费、抚养费、扶养费", COUNTED),
    IncomeType("pension", "养老金、退休金", COUNTED),
    IncomeType("other_transfer", "其他转移性收入", COUNTED),
    # A total nobody split into kinds: what a v1 API client sends as `verified_monthly_income` (counted whole).
    IncomeType("unitemised", "未分项的月收入合计", COUNTED),
    IncomeType("scholarship", "奖学金、助学金", EXCLUDED),
    IncomeType("assistance", "社会救助金（低保金、临时救助金等）", EXCLUDED),
    IncomeType("family_planning", "计划生育奖励扶助金", EXCLUDED),
    IncomeType("veteran", "优抚对象抚恤金、补助金", EXCLUDED),
    IncomeType("illness_disability", "因病因残刚性支出", DEDUCTED),
    IncomeType("job_cost", "就业必要成本（交通等）", DEDUCTED),
)}

_FEN = Decimal("0.01")
MAX_ITEMS = 50
MAX_AMOUNT = Decimal("10000000")  # ten million yuan a month: anything above is a typing error
MAX_MEMBER = 50
MAX_NOTE = 200
# A survey figure and a check figure differing by more than this is a discrepancy the reviewer must explain: 10 %
# of the higher figure, but at least 50 yuan so that rounding and a small side job do not raise a flag.
DISCREPANCY_SHARE = Decimal("0.10")
DISCREPANCY_MIN = Decimal("50")


@dataclass(frozen=True)
class IncomeAssessment:
    gross: Decimal
    excluded: Decimal
    deducted: Decimal
    countable: Decimal

    def as_json(self) -> dict:
        return {"gross": as_number(self.gross), "excluded": as_number(self.excluded),
                "deducted": as_number(self.deducted), "countable": as_number(self.countable)}


# --- money ------------------------------------------------------------------------------------------------------


def to_decimal(value: Any, what: str = "金额") -> Decimal:
    """A money figure from JSON or a form (number or text) as Decimal; ValueError with a Chinese reason."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}{messages.NOT_NUMBER}")
    if isinstance(value, str):
        value = value.strip().replace(",", "").replace("，", "")
    try:
        # str() first: Decimal(0.1) would carry the float's binary error into the money maths.
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{what}{messages.NOT_NUMBER}") from exc
    if not result.is_finite():
        raise ValueError(f"{what}{messages.NOT_FINITE}")
    return result


def fen(value: Decimal) -> Decimal:
    return value.quantize(_FEN, rounding=ROUND_HALF_UP)


def as_number(value: Decimal) -> int | float:
    """A fen-rounded Decimal as a JSON number (whole yuan as int); exact for two decimals."""
    rounded = fen(value)
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


# --- items ------------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def clean_items(rows: Any) -> tuple[list[dict], dict[str, list[str]]]:
    """Check income rows as a form or a message sends them. Returns (items, errors); errors are keyed
    ``<row>-<field>`` (row counted from 0, as the page names its inputs) and ``""`` for the table as a whole.

    A clean item is ``{type, amount (JSON number), member?, note?}``.
    """
    if not isinstance(rows, list):
        return [], {"": [messages.NOT_LIST]}
    if len(rows) > MAX_ITEMS:
        return [], {"": [messages.TOO_MANY_ITEMS.format(max=MAX_ITEMS)]}
    items: list[dict] = []
    errors: dict[str, list[str]] = {}
    for index, raw in enumerate(rows):
        if not isinstance(raw, Mapping):
            errors[str(index)] = [messages.NOT_OBJECT]
            continue
        item: dict[str, Any] = {}
        kind = _text(raw.get("type"))
        if not kind:
            errors[f"{index}-type"] = [messages.REQUIRED]
        elif kind not in INCOME_TYPES:
            errors[f"{index}-type"] = ["不是可选的收入类型"]
        else:
            item["type"] = kind
        amount = raw.get("amount")
        if amount is None or _text(amount) == "":
            errors[f"{index}-amount"] = [messages.REQUIRED]
        else:
            try:
                value = to_decimal(amount, "")
            except ValueError as exc:
                errors[f"{index}-amount"] = [str(exc)]
            else:
                if value < 0:
                    errors[f"{index}-amount"] = ["不能为负数"]
                elif value >= MAX_AMOUNT:
                    errors[f"{index}-amount"] = [messages.TOO_LARGE]
                elif value != fen(value):
                    errors[f"{index}-amount"] = ["金额最多两位小数"]
                else:
                    item["amount"] = as_number(value)
        for name, limit in (("member", MAX_MEMBER), ("note", MAX_NOTE)):
            text = _text(raw.get(name))
            if len(text) > limit:
                errors[f"{index}-{name}"] = [messages.LENGTH_MAX.format(max=limit)]
            elif text:
                item[name] = text
        items.append(item)
    return (items if not errors else []), errors


def countable_income(items: Iterable[Mapping]) -> IncomeAssessment:
    """The household's countable monthly income from its items (see the module doc). Unknown type → ValueError."""
    gross = excluded = deducted = Decimal(0)
    for item in items:
        kind = INCOME_TYPES.get(item.get("type"))  # type: ignore[arg-type]
        if kind is None:
            raise ValueError(f"未知的收入类型：{item.get('type')!r}")
        amount = to_decimal(item.get("amount"), f"{kind.label}金额")
        if amount < 0:
            raise ValueError(f"{kind.label}金额不能为负数")
        if kind.treatment == DEDUCTED:
            deducted += amount
        else:
            gross += amount
            if kind.treatment == EXCLUDED:
                excluded += amount
    countable = max(Decimal(0), gross - excluded - deducted)
    return IncomeAssessment(fen(gross), fen(excluded), fen(deducted), fen(countable))


# --- the assessment and its flags -------------------------------------------------------------------------------

FLAG_CHECK_FAILED = "check_failed"
FLAG_ASSET_TEST_FAILED = "asset_test_failed"
FLAG_INCOME_ABOVE_STANDARD = "income_above_standard"
FLAG_INCOME_DISCREPANCY = "income_discrepancy"
FLAG_TITLES = {
    FLAG_CHECK_FAILED: "经济状况核对未通过",
    FLAG_ASSET_TEST_FAILED: "家庭财产核对未通过",
    FLAG_INCOME_ABOVE_STANDARD: "人均收入不低于当地标准",
    FLAG_INCOME_DISCREPANCY: "调查与核对收入不一致",
}
FLAG_DECISIONS = {"cleared": "经核实可以排除", "upheld": "问题属实"}


def check_income(check: Mapping) -> tuple[Decimal, dict | None]:
    """The economic check's countable figure: its items through `countable_income` when it reports items, else
    its `monthly_income` (the verification centre's total, with nothing left to exclude)."""
    rows = check.get("income_items")
    if rows is not None:
        items, errors = clean_items(rows)
        if errors:
            detail = "；".join(f"{k or '列表'}：{'，'.join(v)}" for k, v in errors.items())
            raise ValueError(f"经济状况核对结果的收入明细有误：{detail}")
        assessment = countable_income(items)
        return assessment.countable, {"items": items, **assessment.as_json()}
    if check.get("monthly_income") is None:
        raise ValueError("经济状况核对结果缺少 monthly_income 或 income_items")
    value = to_decimal(check.get("monthly_income"), "经济状况核对月收入")
    if value < 0:
        raise ValueError("经济状况核对月收入不能为负数")
    return fen(value), None


def _flag(key: str, text: str) -> dict:
    return {"key": key, "title": FLAG_TITLES[key], "text": text}


def assess(survey_income: Any, check: Mapping, members: int, standard: Any) -> dict:
    """The assessed income of a case and its flags (JSON-ready).

    The assessed figure is the **higher** of the survey's and the check's countable income: the check sees what
    agencies hold, the home visit what they do not (a side job paid in cash), and a household must not gain from
    whichever source missed something. Flags say what the street review must decide.
    """
    if not isinstance(check, Mapping):
        raise ValueError("经济状况核对结果应为对象")
    survey = fen(to_decimal(survey_income, "入户调查认定月收入"))
    checked, check_detail = check_income(check)
    assessed = max(survey, checked)
    line = to_decimal(standard, "当地低保标准")
    if members < 1:
        raise ValueError("家庭成员不能为空")
    per_capita = fen(assessed / members)

    flags = []
    findings = _text(check.get("findings"))
    if check.get("passed") is False:
        flags.append(_flag(FLAG_CHECK_FAILED, "区核对中心报告家庭经济状况核对未通过" + (f"：{findings}" if findings else "")))
    asset = check.get("asset_test_passed")
    if asset is False:
        asset_findings = _text(check.get("asset_findings")) or findings
        flags.append(_flag(FLAG_ASSET_TEST_FAILED, "家庭财产超过规定（存款、车辆、房产等）"
                           + (f"：{asset_findings}" if asset_findings else "")))
    if per_capita >= line:
        flags.append(_flag(FLAG_INCOME_ABOVE_STANDARD,
                           f"扣除不计入项目和刚性支出后，家庭人均月收入 {per_capita:,.2f} 元，不低于当地标准 {fen(line):,.2f} 元"))
    gap = abs(survey - checked)
    tolerance = max(DISCREPANCY_MIN, fen(max(survey, checked) * DISCREPANCY_SHARE))
    if gap > tolerance:
        flags.append(_flag(FLAG_INCOME_DISCREPANCY,
                           f"入户调查认定月收入 {survey:,.2f} 元，经济状况核对认定 {checked:,.2f} 元，"
                           f"相差 {gap:,.2f} 元，超过允许差额 {tolerance:,.2f} 元"))
    out: dict[str, Any] = {
        "survey_monthly_income": as_number(survey),
        "check_monthly_income": as_number(checked),
        "assessed_monthly_income": as_number(assessed),
        "per_capita_income": as_number(per_capita),
        # Passed unless the check or its asset test says otherwise (the flags then say why).
        "passed": check.get("passed") is not False and asset is not False,
        "flags": flags,
    }
    if check_detail is not None:
        out["check_income"] = check_detail
    return out


def flags_in(data: Mapping | None) -> list[dict]:
    """The flags a task's data carries (``check_flags``), each ``{key, title, text}``; anything else ignored."""
    raw = (data or {}).get("check_flags")
    if not isinstance(raw, list):
        return []
    return [dict(f) for f in raw if isinstance(f, Mapping) and isinstance(f.get("key"), str)]


def check_flag_decisions(task_data: Mapping, decisions: Mapping | None) -> dict[str, list[str]]:
    """Every flag of the task must be decided; a decision for a flag that was not raised is refused.

    Errors are keyed ``flag_decisions-<flag>-decision`` (the page's input names)."""
    raised = {f["key"] for f in flags_in(task_data)}
    decisions = decisions or {}
    errors: dict[str, list[str]] = {}
    for key in sorted(raised):
        if not isinstance(decisions.get(key), Mapping) or not decisions[key].get("decision"):
            errors[f"flag_decisions-{key}-decision"] = [f"请对“{FLAG_TITLES.get(key, key)}”作出认定并填写意见"]
    for key in decisions:
        if key not in raised:
            errors[f"flag_decisions-{key}-decision"] = ["本案没有该核对问题"]
    return errors


# --- the pages' view of it --------------------------------------------------------------------------------------


def flags_of_task(engine, session, task) -> list[dict]:
    """The flags of an open task (its workflow's data), for the task page; [] once it is closed or moved on."""
    if task.status != TaskStatus.OPEN:
        return []
    instance = session.get(ProcessInstance, task.instance_id)
    if instance is None:
        return []
    spiff_task = ready_spiff_task(engine.workflow_of(instance), task)
    return flags_in(spiff_task.data) if spiff_task is not None else []


def describe_items(items: Any) -> str:
    """Income items in one line for a closed task's page: type, member, amount."""
    if not isinstance(items, list):
        return ""
    parts = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        kind = INCOME_TYPES.get(item.get("type"))  # type: ignore[arg-type]
        label = kind.label if kind else str(item.get("type"))
        who = f"（{item['member']}）" if item.get("member") else ""
        parts.append(f"{label}{who} {item.get('amount')} 元")
    return "；".join(parts) or "无收入"


def describe_decisions(decisions: Any) -> str:
    if not isinstance(decisions, Mapping):
        return ""
    return "；".join(f"{FLAG_TITLES.get(key, key)}：{FLAG_DECISIONS.get(str(v.get('decision')), v.get('decision'))}"
                    f"（{v.get('opinion')}）" for key, v in decisions.items() if isinstance(v, Mapping))

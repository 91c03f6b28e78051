"""特困人员供养 (extreme-poverty support): the application's details, the self-care assessment, the eligibility test
and the monthly support amount. Pure functions; the BPMN scripts reach them through workflows.functions.

Eligibility (国务院《社会救助暂行办法》第十四条; 民发〔2016〕178号《特困人员认定办法》): an elderly, disabled or
under-16 person who has no work capacity, no livelihood (income below the local 低保 standard) and no supporter (无法定
赡养、抚养、扶养义务人, or the supporters cannot support). The self-care assessment follows 认定办法 第十五条: six
activities, each done alone (able), with help (partly) or not at all (unable).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.clock import SHANGHAI
from engine.runtime import current_step

from .ages import age_on

CARE_TYPES = {"centralised": "集中供养（供养服务机构）", "dispersed": "分散供养（居家）"}
SUPPORTER_STATES = {"none": "无法定赡养抚养扶养义务人", "unable": "有义务人但无履行能力", "able": "有义务人且有履行能力"}

# --- self-care assessment (生活自理能力评估) ---------------------------------------------------------------------

# The six activities of 认定办法 第十五条, in the order of the form.
SELF_CARE_ITEMS = {
    "eating": "自主吃饭",
    "dressing": "自主穿衣",
    "bed_transfer": "自主上下床",
    "toileting": "自主如厕",
    "indoor_walking": "室内行走",
    "bathing": "自主洗澡",
}
ABILITY = {"able": "能自主完成", "partly": "需他人协助", "unable": "不能完成"}

SELF_CARE, PARTIAL_CARE, FULL_CARE = "self_care", "partial_care", "full_care"
CARE_LEVELS = {SELF_CARE: "全自理", PARTIAL_CARE: "半自理", FULL_CARE: "全护理"}
# 认定办法 第十五条: all six done alone → 具备生活自理能力; up to 3 not done alone → 部分丧失; 4 or more → 完全丧失.
# An activity done only with help ("partly") is not done alone, so it counts like "unable".
FULL_CARE_FROM = 4


def care_level(answers: Mapping[str, Any] | Sequence[Any]) -> str:
    """The care level from the six answers (a mapping item → able|partly|unable, or the six in SELF_CARE_ITEMS
    order). ValueError (Chinese) for a missing item or an unknown answer."""
    if not isinstance(answers, Mapping):
        values = list(answers)
        if len(values) != len(SELF_CARE_ITEMS):
            raise ValueError(f"生活自理能力评估须有 {len(SELF_CARE_ITEMS)} 项")
        answers = dict(zip(SELF_CARE_ITEMS, values, strict=True))
    not_alone = 0
    for item, label in SELF_CARE_ITEMS.items():
        answer = answers.get(item)
        if answer not in ABILITY:
            raise ValueError(f"{label}：评估结果应为 {'／'.join(ABILITY)} 之一")
        not_alone += answer != "able"
    if not_alone == 0:
        return SELF_CARE
    return FULL_CARE if not_alone >= FULL_CARE_FROM else PARTIAL_CARE


# --- the monthly support amount (供养标准) ------------------------------------------------------------------------

# Basic support (基本生活标准) is at least 1.3 × the local 低保 standard (国办发〔2016〕14号; Beijing and most
# provinces: not below 1.3 times the 低保 standard). "The standard" in this module is always the 低保 standard in
# force where the case is, never the 特困 program's own row (workflows.register.standards.AMOUNT_STANDARD): the
# case data's local_standard for 特困 is the 低保 standard (workflows.cases.open_case).
BASIC_FACTOR = Decimal("1.3")
# Care allowance (照料护理标准) by care level, as a share of the local 低保 standard. Provinces set these (often against
# the minimum wage); these shares are the district's defaults: 全自理 10%, 半自理 30%, 全护理 60%.
CARE_SHARES = {SELF_CARE: Decimal("0.10"), PARTIAL_CARE: Decimal("0.30"), FULL_CARE: Decimal("0.60")}
_FEN = Decimal("0.01")


def _fen(value: Decimal) -> Decimal:
    return value.quantize(_FEN, rounding=ROUND_HALF_UP)


def _standard(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        raise ValueError("没有当地低保标准")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount <= 0:
        raise ValueError("当地低保标准必须大于 0")
    return amount


def support_parts(local_standard: Any, level: str) -> dict[str, Decimal]:
    """{basic, care, total}: the monthly support in yuan (each rounded to fen; total = basic + care)."""
    if level not in CARE_SHARES:
        raise ValueError(f"未知的护理等级：{level!r}")
    standard = _standard(local_standard)
    basic = _fen(standard * BASIC_FACTOR)
    care = _fen(standard * CARE_SHARES[level])
    return {"basic": basic, "care": care, "total": basic + care}


def support_amount(local_standard: Any, level: str) -> Decimal:
    return support_parts(local_standard, level)["total"]


def breakdown(local_standard: Any, level: str, care_type: str | None, *, area: str = "urban",
              standard_from: str | None = None, institution: str | None = None) -> dict:
    """The register's breakdown of a 特困 amount (figures as decimal strings, like workflows.register.amounts)."""
    parts = support_parts(local_standard, level)
    return {
        "standard": f"{_standard(local_standard):.2f}", "area": area, "standard_from": standard_from,
        "basic_factor": str(BASIC_FACTOR), "basic": f"{parts['basic']:.2f}",
        "care_level": level, "care_level_name": CARE_LEVELS[level], "care_share": str(CARE_SHARES[level]),
        "care": f"{parts['care']:.2f}", "care_type": care_type, "institution": institution,
        "topups": [], "cuts": [], "total": f"{parts['total']:.2f}",
    }


# --- eligibility (特困认定条件) -------------------------------------------------------------------------------------

ELDERLY_AGE = 60
MINOR_AGE = 16


def _applicant(household: Mapping | None) -> Mapping:
    members = list((household or {}).get("members") or [])
    for member in members:
        if member.get("relation") == "本人":
            return member
    return members[0] if members else {}


def assess(household: Mapping | None, work_capacity: str | None, monthly_income: Any, supporter: str | None,
           answers: Mapping[str, Any] | Sequence[Any], local_standard: Any, today: date) -> dict:
    """The investigation's result: care level, whether each condition holds, the reasons it fails (Chinese) and the
    proposed amount. JSON-ready (money as strings here; the script wrapper turns them into numbers)."""
    level = care_level(answers)
    standard = _standard(local_standard)
    reasons: list[str] = []
    age = age_on(_applicant(household).get("birth_date"), today)
    # Age stands in for work capacity: the elderly and children under 16 are not expected to work.
    no_work_capacity = work_capacity == "none" or (age is not None and (age >= ELDERLY_AGE or age < MINOR_AGE))
    if not no_work_capacity:
        reasons.append("申请人具有劳动能力（不满 60 周岁且已满 16 周岁）")
    income = Decimal(str(monthly_income if monthly_income is not None else 0))
    no_livelihood = income < standard
    if not no_livelihood:
        reasons.append(f"月收入 {_fen(income):.2f} 元不低于当地低保标准 {standard:.2f} 元")
    no_supporter = supporter in ("none", "unable")
    if not no_supporter:
        reasons.append("有法定赡养、抚养、扶养义务人且其具有履行义务能力")
    return {
        "care_level": level, "care_level_name": CARE_LEVELS[level], "age": age,
        "no_work_capacity": no_work_capacity, "no_livelihood": no_livelihood, "no_supporter": no_supporter,
        "eligible": not reasons, "reasons": reasons, "amount": f"{support_amount(standard, level):.2f}",
    }


def step_problems(task_data: Mapping, decision: str | None) -> dict[str, list[str]]:
    """The street review may not forward (同意上报) a case the investigation found ineligible: it refuses with the
    reasons in writing, or returns the investigation to be redone."""
    check = task_data.get("tekun_check") or {}
    if decision == "approve" and check and not check.get("eligible", True):
        reasons = "；".join(check.get("reasons") or [])
        return {"decision": [f"调查认定不符合特困供养条件（{reasons}），不能同意上报：请不同意并说明理由，或退回重新调查"]}
    return {}


# --- for the BPMN scripts (registered in workflows.functions.FUNCTIONS) -------------------------------------------
# Task data must stay JSON: money goes in as numbers with 2 places (Decimal(str(x)) gives the amount back).


def tekun_assess(household, work_capacity, monthly_income, supporter, answers, local_standard) -> dict:
    """assess() on the step's day (scripts cannot read the clock themselves)."""
    today = current_step().now.astimezone(SHANGHAI).date()
    result = assess(household, work_capacity, monthly_income, supporter, answers, local_standard, today)
    result["amount"] = float(result["amount"])
    return result


def tekun_support(local_standard, level) -> float:
    """The monthly support for a care level under the local standard."""
    return float(support_amount(local_standard, level))


SCRIPT_FUNCTIONS = {"tekun_assess": tekun_assess, "tekun_support": tekun_support}


def register_amount(data: Mapping, standard: Any) -> tuple[Decimal, dict]:
    """(amount, breakdown) of an approved case for the register (workflows.register.enrolment): the standard the
    case was assessed with and the care level, care type and institution the district confirmed."""
    level = data.get("care_level") or data.get("assessed_care_level") or SELF_CARE
    since = getattr(standard, "effective_from", None)
    lines = breakdown(standard.amount, level, data.get("care_type"), area=getattr(standard, "area", None) or "urban",
                      standard_from=f"{since.year:04d}-{since.month:02d}" if isinstance(since, date) else None,
                      institution=data.get("institution"))
    return Decimal(lines["total"]), lines


# --- the application's details (POST /cases {program: "tekun", details: {...}}) -------------------------------
# Last in the module: the form toolkit's package imports workflows.forms.tekun, which reads the constants above,
# so they must exist before the first import of workflows.forms from here.

from marshmallow import ValidationError, validates_schema  # noqa: E402

from .forms.toolkit import Bool, FormSchema, Text, choice, meta  # noqa: E402
from .program_details import register_details  # noqa: E402


class TekunDetails(FormSchema):
    has_supporter = Bool(required=True, metadata=meta(
        "有无法定义务人", "是否有法定赡养、抚养、扶养义务人（有义务人但其无履行能力的，在说明中写明）"))
    supporter_note = Text(load_default=None, allow_none=True, metadata=meta(
        "义务人情况", "义务人姓名、关系及其无法履行义务的原因", widget="textarea"))
    preferred_care = Text(load_default=None, allow_none=True, validate=choice(*CARE_TYPES),
                          metadata=meta("意向供养方式", "集中或分散供养", choices=CARE_TYPES))

    @validates_schema(skip_on_field_errors=False)
    def _note_when_supporter(self, data, **kwargs):
        if data.get("has_supporter") is True and not (data.get("supporter_note") or "").strip():
            raise ValidationError("有法定义务人时须说明其无法履行义务的原因", field_name="supporter_note")


register_details("tekun", TekunDetails)

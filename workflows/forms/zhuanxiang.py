"""专项救助 and 人道慈善救助: the task forms of bpmn/zhuanxiang.bpmn, one per BPMN ``formKey``.

The shared steps (the street's household verification, 区民政局's check of the household's assistance status, the
lead agency's assessment and decision, the written refusal) have one form each whatever the program; a responsible
unit's own confirmation (区卫生局's diagnosis, 区人力社保局's insurance reimbursement …) has its own. Field names are
distinct per step because every step's answer lands in the one case data the later steps read.
"""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from ..linshi import Yuan, money
from ..zhuanxiang import amount_ceiling
from .registry import register_form
from .toolkit import (
    Bool,
    Day,
    FormSchema,
    Int,
    Text,
    choice,
    decision_field,
    meta,
    names_field,
    opinion_field,
    required_if,
)

MAX_AMOUNT = 10_000_000


# Money is checked as Decimal with at most 2 places (linshi.Yuan) and enters task data as a JSON number.
def _amount(label: str, help_text: str, *, required: bool = False):
    bound = validate.Range(min=0, min_inclusive=False, max=MAX_AMOUNT, error="金额须大于 0 元，且不超过一千万元")
    if required:
        return Yuan(as_float=True, required=True, validate=bound, metadata=meta(label, help_text))
    return Yuan(as_float=True, load_default=None, allow_none=True, validate=bound, metadata=meta(label, help_text))


def _cost(label: str, help_text: str):
    return Yuan(as_float=True, required=True, validate=validate.Range(min=0, max=MAX_AMOUNT, error="金额不能为负数"),
                  metadata=meta(label, help_text))


def explained_when_false(field: str, when: str, message: str):
    """Schema validator: ``field`` must be non-blank when the yes/no answer ``when`` is no (情况不属实 needs words)."""

    @validates_schema(skip_on_field_errors=False)
    def check(self, data, **kwargs):
        if field in data and data.get(when) is False and not (data.get(field) or "").strip():
            raise ValidationError(message, field_name=field)

    return check


def _within_ceiling(field: str, task_data: dict, cleaned: dict) -> dict[str, list[str]]:
    """An amount above what the program allows (助医: the self-paid part; 助学: tuition and fees) is refused."""
    amount, ceiling = cleaned.get(field), amount_ceiling(task_data)
    if amount is None or ceiling is None or money(amount) <= ceiling[0]:
        return {}
    return {field: [f"不能超过{ceiling[1]} {ceiling[0]:.2f} 元"]}


# -- shared steps -------------------------------------------------------------------------------------------------

class StreetVerifyForm(FormSchema):
    investigators = names_field("核实人员", "入户核实的街道工作人员姓名，不少于 2 人")
    visited_on = Day(required=True, metadata=meta("入户日期", "入户核实家庭情况的日期"))
    street_verified = Bool(required=True, metadata=meta("情况属实", "申请所述家庭情况与入户核实一致"))
    street_findings = Text(load_default=None, allow_none=True,
                           metadata=meta("核实情况", "家庭人口、收入、困难情况的核实结果；不属实时必填", widget="textarea"))

    _findings_when_not_verified = explained_when_false("street_findings", "street_verified",
                                                       "情况不属实时必须说明核实情况")


STATUSES = {"dibao": "低保家庭", "tekun": "特困人员", "low_income": "低收入家庭", "none": "无救助身份"}


class StatusCheckForm(FormSchema):
    assistance_status = Text(required=True, validate=choice(*STATUSES),
                             metadata=meta("救助身份", "核对救助对象数据库，申请家庭现有的救助身份", choices=STATUSES))
    status_note = Text(load_default=None, allow_none=True,
                       metadata=meta("说明", "保障起始时间、证件编号等", widget="textarea"))


class UnitOpinionForm(FormSchema):
    unit_confirmed = Bool(required=True, metadata=meta("情况属实", "本单位掌握的情况与申请一致"))
    unit_opinion = Text(load_default=None, allow_none=True,
                        metadata=meta("责任单位意见", "核实的情况；不属实时必填", widget="textarea"))

    _opinion_when_not_confirmed = explained_when_false("unit_opinion", "unit_confirmed", "情况不属实时必须填写意见")


RECOMMENDATIONS = {"support": "建议救助", "not_support": "建议不予救助"}


class AssessForm(FormSchema):
    recommendation = Text(required=True, validate=choice(*RECOMMENDATIONS),
                          metadata=meta("评估结论", "结合街道核实和责任单位意见提出", choices=RECOMMENDATIONS))
    aid_item = Text(required=True, validate=validate.Length(min=1, max=200, error="不能为空，且不超过 200 字"),
                    metadata=meta("救助内容", "如：医疗费用救助、学费减免、辅具适配、公租房配租、法律援助"))
    proposed_amount = _amount("拟救助金额（元）", "一次性救助金额；服务类救助（法律援助、心理慰藉）可不填")
    assessment_opinion = Text(load_default=None, allow_none=True,
                              metadata=meta("评估意见", "建议不予救助时必填", widget="textarea"))

    _opinion_when_not_supporting = required_if("assessment_opinion", "recommendation", ("not_support",),
                                               "建议不予救助时必须填写评估意见")

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        return _within_ceiling("proposed_amount", task_data, cleaned)


class DecideForm(FormSchema):
    decision = decision_field()
    amount = _amount("核定救助金额（元）", "不填则按评估的拟救助金额")
    reason = Text(load_default=None, allow_none=True,
                  metadata=meta("不予救助理由", "不同意时必填，将书面告知申请人", widget="textarea"))
    opinion = opinion_field("审核意见")

    _reason_when_rejecting = required_if("reason", "decision", ("reject",), "不予救助必须书面说明理由")

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        if cleaned.get("decision") != "approve":
            return {}
        return _within_ceiling("amount", task_data, cleaned)


class RefusalNoticeForm(FormSchema):
    delivered_on = Day(required=True, metadata=meta("送达日期", "不予救助决定书面告知送达申请人的日期"))
    note = Text(load_default=None, allow_none=True, metadata=meta("备注", "送达方式、签收情况", widget="textarea"))


# -- responsible units' own confirmations -------------------------------------------------------------------------

class DiagnosisForm(FormSchema):
    diagnosis_confirmed = Bool(required=True, metadata=meta("诊断属实", "医疗机构出具的诊断与申请一致"))
    confirmed_total_cost = _cost("核定医疗总费用（元）", "按医疗机构费用清单核定的合规医疗费用")
    diagnosis_opinion = Text(load_default=None, allow_none=True,
                             metadata=meta("卫生部门意见", "诊断不属实时必填", widget="textarea"))

    _opinion_when_not_confirmed = explained_when_false("diagnosis_opinion", "diagnosis_confirmed",
                                                       "诊断不属实时必须填写意见")


INSURANCE_TYPES = {"employee": "职工医保", "resident": "城乡居民医保", "none": "未参保"}


class InsuranceForm(FormSchema):
    insurance_type = Text(required=True, validate=choice(*INSURANCE_TYPES),
                          metadata=meta("参保类型", "先保险后救助：医保报销后仍需自付的部分才予救助",
                                        choices=INSURANCE_TYPES))
    confirmed_reimbursed = _cost("医保已报销（元）", "基本医保、大病保险已报销的金额")
    insurance_opinion = Text(load_default=None, allow_none=True,
                             metadata=meta("人力社保部门意见", "报销情况说明", widget="textarea"))

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        total = task_data.get("confirmed_total_cost")
        if total is None:
            total = (task_data.get("details") or {}).get("total_cost")
        if total is not None and money(cleaned["confirmed_reimbursed"]) > money(total):
            return {"confirmed_reimbursed": [f"不能超过医疗总费用 {money(total)} 元"]}
        return {}


CATEGORIES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")


class DisabilityAssessmentForm(FormSchema):
    assessed_grade = Int(required=True, validate=validate.Range(min=1, max=4, error="残疾等级应为 1 至 4 级"),
                         metadata=meta("评定等级", "残疾评定机构评定的等级（1 级最重）"))
    assessed_category = Text(required=True, validate=choice(*CATEGORIES), metadata=meta("残疾类别", "评定的残疾类别"))
    assessment_note = Text(load_default=None, allow_none=True,
                           metadata=meta("评定说明", "评定机构、评定日期、康复需求", widget="textarea"))


RISK_LEVELS = {"low": "低", "medium": "中", "high": "高"}


class PsychAssessmentForm(FormSchema):
    risk_level = Text(required=True, validate=choice(*RISK_LEVELS),
                      metadata=meta("心理风险等级", "专业人员评估的心理危机风险", choices=RISK_LEVELS))
    referral = Bool(load_default=False, metadata=meta("转介医疗机构", "风险高时转介精神卫生专业机构"))
    psych_opinion = Text(load_default=None, allow_none=True,
                         metadata=meta("评估意见", "风险为高时必填：干预建议", widget="textarea"))

    _opinion_when_high = required_if("psych_opinion", "risk_level", ("high",), "风险为高时必须填写干预建议")


register_form("zhuanxiang_street_verify", "街道入户核实", StreetVerifyForm)
register_form("zhuanxiang_status_check", "救助身份核实", StatusCheckForm)
register_form("zhuanxiang_unit_opinion", "责任单位意见", UnitOpinionForm)
register_form("zhuanxiang_assess", "牵头单位评估", AssessForm)
register_form("zhuanxiang_decide", "牵头单位审核决定", DecideForm)
register_form("zhuanxiang_refusal_notice", "不予救助书面告知", RefusalNoticeForm)
register_form("zhuyi_diagnosis", "诊断与医疗费用确认", DiagnosisForm)
register_form("zhuyi_insurance", "医保报销确认", InsuranceForm)
register_form("zhucan_assessment", "残疾评定确认", DisabilityAssessmentForm)
register_form("xinli_assessment", "心理评估", PsychAssessmentForm)

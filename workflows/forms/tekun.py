"""特困人员供养: the task forms of bpmn/tekun.bpmn, one per BPMN ``formKey``.

The investigation records what the eligibility test (workflows.tekun.assess) needs: work capacity, income items
(counted by the rules of workflows.income, like 低保's survey), the supporters' situation and the six answers of the
self-care assessment. The district's confirmation sets the care type and may correct the care level; the amount
follows from them by rule, so it is not typed.
"""
from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from .. import tekun
from .dibao import DibaoPaymentSetupForm, DibaoRefusalNoticeForm, DibaoSpotCheckForm
from .general import ReviewForm
from .income import income_figures, income_items_field, income_items_rule
from .registry import register_form
from .toolkit import (
    Bool,
    Day,
    FormSchema,
    Text,
    choice,
    decision_field,
    meta,
    names_field,
    opinion_field,
    required_if,
)

WORK_CAPACITY = {"none": "无劳动能力", "partial": "部分劳动能力", "full": "有劳动能力"}


class TekunAcceptForm(FormSchema):
    decision = decision_field(accept=True)
    opinion = opinion_field("不予受理时必填；受理时可一次性列明需补齐的材料")
    relatives_filed = Bool(
        load_default=False,
        metadata=meta("近亲属备案", "申请人是否为经办人员或村（居）委会干部的近亲属；备案的必须由区入户抽查"),
    )

    _opinion_when_rejecting = required_if("opinion", "decision", ("reject",), "不予受理时必须说明理由")


def _ability(item: str):
    return Text(required=True, validate=choice(*tekun.ABILITY),
                metadata=meta(tekun.SELF_CARE_ITEMS[item], "生活自理能力评估：能自主完成／需他人协助／不能完成",
                              choices=tekun.ABILITY))


class TekunInvestigationForm(FormSchema):
    investigators = names_field("调查人员", "参加入户调查的工作人员姓名，不少于 2 人")
    visited_on = Day(required=True, metadata=meta("入户日期", "入户调查的日期"))
    work_capacity = Text(required=True, validate=choice(*WORK_CAPACITY),
                         metadata=meta("劳动能力", "申请人的劳动能力（60 周岁以上或未满 16 周岁视为无劳动能力）",
                                       choices=WORK_CAPACITY))
    income_items = income_items_field("本人收入明细")
    supporter = Text(required=True, validate=choice(*tekun.SUPPORTER_STATES),
                     metadata=meta("法定义务人", "法定赡养、抚养、扶养义务人及其履行能力", choices=tekun.SUPPORTER_STATES))
    supporter_note = Text(load_default=None, allow_none=True,
                          metadata=meta("义务人情况", "义务人姓名、关系，能否履行义务及依据", widget="textarea"))
    self_care_eating = _ability("eating")
    self_care_dressing = _ability("dressing")
    self_care_bed_transfer = _ability("bed_transfer")
    self_care_toileting = _ability("toileting")
    self_care_indoor_walking = _ability("indoor_walking")
    self_care_bathing = _ability("bathing")
    findings = Text(load_default=None, allow_none=True,
                    metadata=meta("调查情况", "入户核查、邻里走访的情况", widget="textarea"))

    _items = income_items_rule()
    _figures = income_figures()

    @validates_schema(skip_on_field_errors=False)
    def _supporter_explained(self, data, **kwargs):
        if data.get("supporter") in ("unable", "able") and not (data.get("supporter_note") or "").strip():
            raise ValidationError("有法定义务人时须写明义务人情况", field_name="supporter_note")


class TekunStreetReviewForm(ReviewForm):
    """街道审核: an ineligible case (workflows.tekun.assess) cannot be forwarded."""

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        return tekun.step_problems(task_data, cleaned.get("decision"))


class TekunApprovalForm(ReviewForm):
    care_type = Text(load_default=None, allow_none=True, validate=choice(*tekun.CARE_TYPES),
                     metadata=meta("供养方式", "集中供养（在供养服务机构）或分散供养（在家）；同意时必填",
                               choices=tekun.CARE_TYPES))
    institution = Text(load_default=None, allow_none=True,
                       metadata=meta("供养服务机构", "集中供养的敬老院、福利院等机构名称；集中供养时必填"))
    care_level = Text(load_default=None, allow_none=True, validate=choice(*tekun.CARE_LEVELS),
                      metadata=meta("护理等级", "不填则按调查评估的等级；决定照料护理标准", choices=tekun.CARE_LEVELS))

    _care_type_when_approving = required_if("care_type", "decision", ("approve",), "同意时必须确定供养方式")
    _institution_when_centralised = required_if("institution", "care_type", ("centralised",),
                                                "集中供养时必须填写供养服务机构")


register_form("tekun_accept", "特困供养受理", TekunAcceptForm)
register_form("tekun_investigation", "特困供养调查核实", TekunInvestigationForm)
register_form("tekun_street_review", "街道审核", TekunStreetReviewForm)
register_form("tekun_spot_check", "区入户抽查", DibaoSpotCheckForm)
register_form("tekun_approval", "区审核确认", TekunApprovalForm)
register_form("tekun_payment_setup", "发放设置", DibaoPaymentSetupForm)
register_form("tekun_refusal_notice", "书面告知", DibaoRefusalNoticeForm)

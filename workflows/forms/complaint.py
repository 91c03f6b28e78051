"""投诉举报: the task forms of the complaint process (bpmn/complaint.bpmn), one per BPMN ``formKey``.

The home visit is mandatory (a date, at least two investigators, what they found). The street's opinion names the
outcome; a correction or fraud needs the household on the register, and the district confirms what it changes:
the new monthly amount or a stop, or the amount obtained by fraud and the fine multiple (any from 1 to 3 ×, e.g.
1.5). The district may instead reject the street's finding (decision reject, with its reason): the complaint goes
back to the street's 处理意见, which may then close it as unfounded or propose another outcome.
"""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from ..complaints.process import recipient_of
from ..register.models import RecipientStatus
from .registry import register_form
from .toolkit import Day, FormSchema, Number, Text, choice, meta, names_field

CATEGORIES = {"income": "隐瞒收入", "assets": "隐瞒财产（房产、车辆、存款等）", "household": "家庭人口或户籍情况不实",
              "other": "其他不符合条件的情形"}
OUTCOMES = {"unfounded": "情况不实", "corrected": "情况属实，纠正待遇", "fraud": "骗取救助，停发并追缴"}
ACTIONS = {"change": "调整月保障金", "stop": "停发"}
NOT_ON_REGISTER = "被举报家庭不在保障台账上（申请尚在办理的，由审批环节处理，其审批必须入户抽查）"


def _required_text(label: str, help_text: str, message: str) -> Text:
    return Text(required=True, validate=validate.Length(min=1, error=message),
                metadata=meta(label, help_text, widget="textarea"))


DECISIONS = {"approve": "同意街道意见", "reject": "不同意，退回街道重新提出处理意见"}


def _recipient(task_data):
    return recipient_of(task_data.get("recipient_id"))


def _decision():
    return Text(required=True, validate=choice(*DECISIONS),
                metadata=meta("区民政局意见", "同意的按下列内容执行；不同意的退回街道，并在理由中说明", choices=DECISIONS))


def _required_when_approving(*names: str):
    """Schema validator: each of `names` must be given when the district approves (not when it sends back)."""

    @validates_schema(skip_on_field_errors=False)
    def check(self, data, **kwargs):
        if data.get("decision") != "approve":
            return
        missing = {name: ["同意时必须填写"] for name in names if name in data and data.get(name) is None}
        if missing:
            raise ValidationError(missing)

    return check


class ComplaintVerifyForm(FormSchema):
    category = Text(required=True, validate=choice(*CATEGORIES),
                    metadata=meta("举报类型", "举报反映的主要问题", choices=CATEGORIES))
    opinion = Text(load_default=None, allow_none=True,
                   metadata=meta("受理意见", "核实举报的线索，安排入户核查", widget="textarea"))


class ComplaintHomeVisitForm(FormSchema):
    visited_on = Day(required=True, metadata=meta("入户日期", "入户核查的日期（投诉举报必须入户核查）"))
    investigators = names_field("核查人员", "参加入户核查的工作人员姓名，不少于 2 人")
    finding = _required_text("核查情况", "入户看到的情况，邻里走访、信息核对的结果", "请填写核查情况")


class ComplaintOpinionForm(FormSchema):
    outcome = Text(required=True, validate=choice(*OUTCOMES),
                   metadata=meta("处理意见", "情况不实的办结；属实的报区民政局确认纠正或追缴", choices=OUTCOMES))
    opinion = _required_text("意见", "说明认定的事实和理由", "请填写意见")

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        if cleaned.get("outcome") in ("corrected", "fraud") and _recipient(task_data) is None:
            return {"outcome": [NOT_ON_REGISTER]}
        return {}


class ComplaintCorrectionForm(FormSchema):
    decision = _decision()
    action = Text(load_default=None, allow_none=True, validate=choice(*ACTIONS),
                  metadata=meta("纠正方式", "调整月保障金或停发，自决定次月起执行", choices=ACTIONS))
    new_monthly_amount = Number(
        load_default=None, allow_none=True,
        validate=validate.Range(min=0, min_inclusive=False, error="调整后的月保障金必须大于 0"),
        metadata=meta("调整后月保障金（元）", "选择调整时必填"))
    reason = _required_text("理由", "纠正的事实和依据，记入台账变更记录；退回的说明不同意的理由", "请填写理由")
    _action_when_approving = _required_when_approving("action")

    @validates_schema(skip_on_field_errors=False)
    def _amount_when_changing(self, data, **kwargs):
        if data.get("action") == "change" and data.get("new_monthly_amount") is None \
                and "new_monthly_amount" in data:
            raise ValidationError("调整月保障金时必须填写调整后的金额", field_name="new_monthly_amount")

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        if cleaned.get("decision") != "approve":
            return {}
        recipient = _recipient(task_data)
        if recipient is None:
            return {"action": [NOT_ON_REGISTER]}
        if recipient.status == RecipientStatus.STOPPED:
            return {"action": ["该保障对象已停保，无需纠正待遇"]}
        return {}


class ComplaintFraudForm(FormSchema):
    decision = _decision()
    obtained_amount = Number(
        load_default=None, allow_none=True,
        validate=validate.Range(min=0, min_inclusive=False, error="骗取金额必须大于 0"),
        metadata=meta("骗取金额（元）", "查实以不正当手段获得的救助金额，予以追回"))
    fine_multiple = Number(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=3, error="罚款倍数应为 1 到 3 倍"),
        metadata=meta("罚款倍数", "处骗取金额 1 倍以上 3 倍以下的罚款（可为 1.5 等）"))
    reason = _required_text("认定理由", "骗取救助的事实和依据；退回的说明不同意的理由", "请填写认定理由")
    _amounts_when_approving = _required_when_approving("obtained_amount", "fine_multiple")


register_form("complaint_verify", "投诉举报核实受理", ComplaintVerifyForm)
register_form("complaint_home_visit", "投诉举报入户核查", ComplaintHomeVisitForm)
register_form("complaint_opinion", "投诉举报处理意见", ComplaintOpinionForm)
register_form("complaint_correction", "投诉举报纠正确认", ComplaintCorrectionForm)
register_form("complaint_fraud", "骗取救助追缴确认", ComplaintFraudForm)

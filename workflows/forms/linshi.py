"""临时救助: the task forms of bpmn/linshi.bpmn, one per ``formKey``.

The decision forms enforce the approval tiers as the task completes (``step_check``): a street may not grant above
its delegated limit, the district not above the joint-review limit; the answer is a 422 naming the tier. The limits
are the ones the case was routed by (task data ``limits``, from workflows.linshi_steps.linshi_limits).
"""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema
from sqlalchemy import select

from engine.runtime import current_step

from ..linshi import Tiers, Yuan, limits_row
from ..models import User
from .dibao import DibaoRefusalNoticeForm
from .general import ReviewForm
from .registry import register_form
from .toolkit import (
    MAX_NAMES,
    DistinctNames,
    FormSchema,
    Text,
    TextList,
    decision_field,
    meta,
    names_field,
    opinion_field,
    required_if,
)

MIN_JOINT_MEMBERS = 3


def amount_field(label: str, help_text: str, *, required: bool = False):
    bounds = validate.Range(min=0, max=100_000_000, min_inclusive=False, error="金额须大于 0")
    if required:
        return Yuan(as_float=True, required=True, validate=bounds, metadata=meta(label, help_text))
    return Yuan(as_float=True, load_default=None, allow_none=True, validate=bounds, metadata=meta(label, help_text))


class _ApprovalForm(ReviewForm):
    """同意/不同意 with an opinion, and the amount granted when approving."""

    amount = amount_field("核定救助金额（元）", "一次性发放的临时救助金额")

    @validates_schema(skip_on_field_errors=True)
    def _amount_required(self, data, **kwargs):
        if data.get("decision") == "approve" and data.get("amount") is None:
            raise ValidationError("同意时须填写核定金额", field_name="amount")


def _tiers(task_data) -> Tiers | None:
    limits = task_data.get("limits")
    return Tiers.from_data(limits) if isinstance(limits, dict) else None


def _street_limit_check(task_data, cleaned) -> dict[str, list[str]]:
    tiers = _tiers(task_data)
    if tiers is None or cleaned.get("decision") != "approve" or cleaned.get("amount") is None:
        return {}
    refusal = tiers.over_street_limit(cleaned["amount"])
    return {"amount": [refusal]} if refusal else {}


# -- 急难型: aid first, paperwork after -------------------------------------------------------------------------


class LinshiEmergencyGrantForm(FormSchema):
    decision = Text(required=True, validate=validate.OneOf(("approve", "reject"), error="应为 approve 或 reject"),
                    metadata=meta("先行救助", "情况紧急、确需救助的当日先行发放；不予救助须说明理由",
                                  choices={"approve": "先行救助", "reject": "不予救助"}))
    amount = amount_field("先行救助金额（元）", "不超过街道审批限额，当日一次性发放")
    opinion = opinion_field("不予救助时必填")

    _opinion_when_rejecting = required_if("opinion", "decision", ("reject",), "不予救助时必须说明理由")

    @validates_schema(skip_on_field_errors=True)
    def _amount_required(self, data, **kwargs):
        if data.get("decision") == "approve" and data.get("amount") is None:
            raise ValidationError("先行救助须填写金额", field_name="amount")

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        return _street_limit_check(task_data, cleaned)


class LinshiPaperworkForm(FormSchema):
    materials = TextList(required=True, validate=[validate.Length(min=1, max=MAX_NAMES, error="至少列明一项材料")],
                         metadata=meta("补齐的材料", "先行救助后补办的申请书、身份证明、困难情况证明等"))
    investigators = names_field("核查人员", "补办手续时核实情况的工作人员姓名，不少于 2 人")
    findings = Text(load_default=None, allow_none=True,
                    metadata=meta("核实情况", "事后核实的急难情况", widget="textarea"))


class LinshiPaperworkReviewForm(ReviewForm):
    """街道确认 the aid granted first; not confirming revokes it in the register (recovery follows)."""


# -- 支出型: the full procedure ------------------------------------------------------------------------------------


class LinshiAcceptForm(FormSchema):
    decision = decision_field(accept=True)
    opinion = opinion_field("不予受理时必填；受理时可一次性列明需补齐的材料")

    _opinion_when_rejecting = required_if("opinion", "decision", ("reject",), "不予受理时必须说明理由")


class LinshiSurveyForm(FormSchema):
    investigators = names_field("调查人员", "参加入户调查的工作人员姓名，不少于 2 人")
    household_monthly_income = Yuan(
        as_float=True, required=True,
        validate=validate.Range(min=0, max=100_000_000, error="须大于或等于 0"),
        metadata=meta("家庭月收入（元）", "核实的家庭月收入合计，用于与上年度当地居民人均收入比对"))
    expense_total = amount_field("刚性支出（元）", "核实的医疗、教育等突发刚性支出合计")
    proposed_amount = amount_field("拟救助金额（元）", "按困难程度提出的一次性救助金额，决定审批层级", required=True)
    findings = Text(load_default=None, allow_none=True,
                    metadata=meta("调查情况", "入户核查、邻里走访的情况", widget="textarea"))

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        """The income test needs last year's average: say so here rather than fail in the script after."""
        row = limits_row(current_step().session, str(task_data.get("district") or ""))
        if row is None or row.last_year_average_income is None:
            return {"household_monthly_income": [
                "本区尚未设置上年度当地居民人均月收入，无法进行收入比对；请区民政局先在临时救助限额中设置"]}
        return {}


class LinshiStreetDecisionForm(_ApprovalForm):
    """街道审批 (street tier): at most the street's delegated limit."""

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        return _street_limit_check(task_data, cleaned)


class LinshiStreetReviewForm(ReviewForm):
    """街道审核 before the district decides (district and joint tiers)."""


class LinshiDistrictApprovalForm(_ApprovalForm):
    """区民政局审批: at most the joint-review limit; above it only 一事一议 may grant."""

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        tiers = _tiers(task_data)
        if tiers is None or cleaned.get("decision") != "approve" or cleaned.get("amount") is None:
            return {}
        refusal = tiers.over_district_limit(cleaned["amount"])
        return {"amount": [refusal]} if refusal else {}


class LinshiJointProposalForm(_ApprovalForm):
    """区民政局提请一事一议: the proposed amount and the members who sign, each by user name."""

    joint_members = TextList(
        load_default=None, allow_none=True,
        validate=[validate.Length(max=MAX_NAMES), DistinctNames(MIN_JOINT_MEMBERS, "一事一议成员")],
        metadata=meta("一事一议成员", f"参加联合审议的人员（用户名），不少于 {MIN_JOINT_MEMBERS} 人，须全部同意"))

    @validates_schema(skip_on_field_errors=True)
    def _members_when_approving(self, data, **kwargs):
        if data.get("decision") == "approve" and not data.get("joint_members"):
            raise ValidationError(f"提请一事一议须列出不少于 {MIN_JOINT_MEMBERS} 名成员", field_name="joint_members")

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        names = cleaned.get("joint_members") or []
        if cleaned.get("decision") != "approve" or not names:
            return {}
        found = set(current_step().session.scalars(
            select(User.username).where(User.username.in_(names), User.active.is_(True))))
        unknown = [n for n in names if n not in found]
        return {"joint_members": [f"用户不存在或已停用：{'、'.join(unknown)}"]} if unknown else {}


class LinshiJointVoteForm(FormSchema):
    decision = decision_field()
    opinion = Text(required=True, validate=validate.Length(min=1, error="每位成员须填写审议意见"),
                   metadata=meta("审议意见", "同意或不同意的理由", widget="textarea"))

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        """Each member's task is one instance of the multi-instance 一事一议: its answer leaves the instance as the
        output item `vote` (SpiffWorkflow runs post-scripts once, on the whole task, so the form builds it),
        naming the member the instance was for."""
        cleaned["vote"] = {"member": task_data.get("member"), "decision": cleaned.get("decision"),
                           "opinion": cleaned.get("opinion")}
        return {}


register_form("linshi_emergency_grant", "先行救助", LinshiEmergencyGrantForm)
register_form("linshi_paperwork", "补办手续", LinshiPaperworkForm)
register_form("linshi_paperwork_review", "街道确认", LinshiPaperworkReviewForm)
register_form("linshi_accept", "临时救助受理", LinshiAcceptForm)
register_form("linshi_survey", "入户调查", LinshiSurveyForm)
register_form("linshi_street_decision", "街道审批", LinshiStreetDecisionForm)
register_form("linshi_street_review", "街道审核", LinshiStreetReviewForm)
register_form("linshi_district_approval", "区民政局审批", LinshiDistrictApprovalForm)
register_form("linshi_joint_proposal", "提请一事一议", LinshiJointProposalForm)
register_form("linshi_joint_vote", "一事一议", LinshiJointVoteForm)
register_form("linshi_refusal_notice", "书面告知", DibaoRefusalNoticeForm)

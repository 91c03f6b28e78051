"""最低生活保障（低保）: the task forms of the 低保 processes (2012 and 2021 procedures), one per BPMN ``formKey``.

Another program (特困, 临时救助, …) gets a module like this one, imported by ``workflows.forms``.
"""
from __future__ import annotations

from marshmallow import ValidationError, pre_load, validate, validates_schema

from .. import income, messages
from .general import ReviewForm
from .income import (
    clean_flag_decisions,
    flag_decisions_field,
    flag_decisions_rule,
    income_figures,
    income_items_field,
    income_items_rule,
)
from .registry import register_form
from .toolkit import (
    AccountNumber,
    Bool,
    Day,
    FormSchema,
    Int,
    Number,
    Text,
    choice,
    decision_field,
    meta,
    names_field,
    opinion_field,
    required_if,
)


class DibaoAcceptForm(FormSchema):
    decision = decision_field(accept=True)
    opinion = opinion_field("不予受理时必填；受理时可一次性列明需补齐的材料")

    _opinion_when_rejecting = required_if("opinion", "decision", ("reject",), "不予受理时必须说明理由")


class DibaoRelativesForm(FormSchema):
    relatives_filed = Bool(
        required=True,
        metadata=meta("近亲属备案", "申请人是否为经办人员或村（居）委会干部的近亲属（配偶、父母、子女、兄弟姐妹、"
                                "祖父母、外祖父母、孙子女、外孙子女）；备案的家庭必须由区入户抽查"),
    )
    note = Text(load_default=None, allow_none=True,
                metadata=meta("备注", "备案关系的说明，如与哪位工作人员是何种亲属关系", widget="textarea"))


class DibaoSurveyForm(FormSchema):
    investigators = names_field("调查人员", "参加入户调查的工作人员姓名，不少于 2 人")
    # The items, not a typed total: the countable figure (verified_monthly_income) follows from them by the rules
    # of workflows.income, so an excluded scholarship or a deducted medical cost cannot be counted by mistake.
    income_items = income_items_field()
    findings = Text(
        load_default=None,
        allow_none=True,
        metadata=meta("调查情况", "入户核查、邻里走访、信函索证的情况", widget="textarea"),
    )
    visited_on = Day(load_default=None, allow_none=True, metadata=meta("入户日期", "入户调查的日期"))

    _items = income_items_rule()
    _figures = income_figures()

    @pre_load
    def _v1_total(self, data, **kwargs):
        # Contract v1 clients send one typed total, `verified_monthly_income`, and no items: it becomes one
        # counted "unitemised" item, so they keep working and the figure still goes through workflows.income.
        if isinstance(data, dict) and "income_items" not in data and data.get("verified_monthly_income") is not None:
            data = dict(data)
            data["income_items"] = [{"type": "unitemised", "amount": data.pop("verified_monthly_income")}]
        return data


class DibaoAppraisalForm(FormSchema):
    representatives_present = Int(
        required=True,
        validate=validate.Range(min=0, error="不能为负数"),
        metadata=meta("到会代表人数", "参加民主评议的居民代表人数"),
    )
    representatives_total = Int(
        required=True,
        validate=validate.Range(min=1, error="至少为 1"),
        metadata=meta("居民代表总数", "本社区居民代表总人数"),
    )
    result = Text(
        required=True,
        validate=choice("pass", "fail"),
        metadata=meta("评议结果", "评议是否通过", choices={"pass": "通过", "fail": "未通过"}),
    )
    opinion = opinion_field("评议意见；未通过时必填")

    _opinion_when_failed = required_if("opinion", "result", ("fail",), "评议未通过时必须填写意见")

    @validates_schema(skip_on_field_errors=False)
    def _quorum(self, data, **kwargs):
        present, total = data.get("representatives_present"), data.get("representatives_total")
        if not isinstance(present, int) or not isinstance(total, int):
            return
        if present > total:
            raise ValidationError("到会人数不能超过代表总数", field_name="representatives_present")
        # Integer comparison: 2/3 as a float would misjudge e.g. 8 of 12.
        if 3 * present < 2 * total:
            raise ValidationError("到会居民代表不足三分之二，评议无效", field_name="representatives_present")


class DibaoStreetReviewForm(ReviewForm):
    """街道审核: the opinion, and a decision with an opinion on every flag the assessment raised (check_flags)."""

    flag_decisions = flag_decisions_field()

    _flag_rows = flag_decisions_rule()
    _flag_tidy = clean_flag_decisions()

    @staticmethod
    def step_check(task_data, cleaned) -> dict[str, list[str]]:
        """Run as the task completes, against the task's own data: every raised flag decided."""
        return income.check_flag_decisions(task_data, cleaned.get("flag_decisions"))


class DibaoSpotCheckForm(FormSchema):
    visited_on = Day(required=True, metadata=meta("抽查日期", "区民政部门入户抽查的日期"))
    visitors = names_field("抽查人员", "参加入户抽查的人员姓名，不少于 2 人")
    conclusion = Text(
        required=True,
        validate=choice("confirm", "dispute"),
        metadata=meta("抽查结论", "与街道审核意见一致还是存在疑问", choices={"confirm": "情况属实", "dispute": "存在疑问"}),
    )
    findings = Text(load_default=None, allow_none=True,
                    metadata=meta("抽查情况", "入户看到的情况；存在疑问时必填", widget="textarea"))

    _findings_when_disputed = required_if("findings", "conclusion", ("dispute",), "存在疑问时必须说明抽查情况")


class DibaoApprovalForm(ReviewForm):
    amount = Number(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, min_inclusive=False, error="核定金额必须大于 0"),
        metadata=meta("核定月保障金（元）", "不填则按核算的拟保障金额发放"),
    )


class DibaoPaymentSetupForm(FormSchema):
    bank_name = Text(
        required=True,
        validate=validate.Length(min=1, error=messages.EMPTY),
        metadata=meta("开户银行", "社会化发放的代发银行及网点"),
    )
    account_number = AccountNumber(
        required=True,
        validate=validate.Regexp(r"^\d{10,25}$", error="账号应为 10 到 25 位数字"),
        metadata=meta("银行账号", "户主本人的银行卡号或存折账号，10 到 25 位数字"),
    )


class DibaoRefusalNoticeForm(FormSchema):
    reason = Text(
        required=True,
        validate=validate.Length(min=1, error=messages.EMPTY),
        metadata=meta("不予批准理由", "书面告知申请人的理由", widget="textarea"),
    )
    delivered_on = Day(load_default=None, allow_none=True, metadata=meta("送达日期", "书面告知送达申请人的日期"))


register_form("dibao_accept", "低保受理", DibaoAcceptForm)
register_form("dibao_relatives", "近亲属备案核查", DibaoRelativesForm)
register_form("dibao_survey", "入户调查", DibaoSurveyForm)
register_form("dibao_appraisal", "民主评议", DibaoAppraisalForm)
register_form("dibao_street_review", "街道审核", DibaoStreetReviewForm)
register_form("dibao_spot_check", "区入户抽查", DibaoSpotCheckForm)
register_form("dibao_approval", "区审批", DibaoApprovalForm)
register_form("dibao_payment_setup", "发放设置", DibaoPaymentSetupForm)
register_form("dibao_refusal_notice", "书面告知", DibaoRefusalNoticeForm)

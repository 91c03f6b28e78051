"""定期复核: the task forms of the review process (bpmn/dibao_review.bpmn), one per BPMN ``formKey``.

The survey re-verifies the household's income item by item (the income items table of workflows.forms.income, so the
review counts income exactly as the application did). The street review proposes an outcome, the district decides
it; a stop (停保) and a gradual exit (渐退) always carry a written reason — the reason goes into the recipient's
audited change and, for a stop, into the written notice.
"""
from __future__ import annotations

from .income import income_figures, income_items_field, income_items_rule
from .registry import register_form
from .toolkit import Bool, Day, FormSchema, Text, choice, meta, names_field, opinion_field, required_if

OUTCOMES = ("continue", "raise", "lower", "stop", "exit")
OUTCOME_NAMES = {"continue": "维持原待遇", "raise": "提高保障金", "lower": "降低保障金", "stop": "停保",
                 "exit": "渐退（就业增收）"}
# Outcomes that end (or begin to end) assistance: they need a reason in writing.
ENDING = ("stop", "exit")


def outcome_field(label: str, help_text: str):
    return Text(required=True, validate=choice(*OUTCOMES), metadata=meta(label, help_text, choices=OUTCOME_NAMES))


class ReviewSurveyForm(FormSchema):
    investigators = names_field("调查人员", "参加复核入户调查的工作人员姓名，不少于 2 人")
    income_items = income_items_field("家庭收入明细")
    income_from_work = Bool(
        load_default=False,
        metadata=meta("就业增收", "家庭收入增加主要因成员就业：收入超过标准时可适用救助渐退"),
    )
    findings = Text(load_default=None, allow_none=True,
                    metadata=meta("调查情况", "入户核查、邻里走访的情况，家庭人口与收入的变化", widget="textarea"))
    visited_on = Day(load_default=None, allow_none=True, metadata=meta("入户日期", "复核入户调查的日期"))

    # Per-cell errors (income_items-<row>-<field>) and the countable figure, exactly as the application's survey.
    _income_rows = income_items_rule()
    _income_figures = income_figures()


class ReviewProposalForm(FormSchema):
    proposal = outcome_field("复核意见", "按重新核算结果提出：维持、提高、降低、停保或渐退")
    opinion = opinion_field("停保或渐退时必填，说明理由")

    _reason_when_ending = required_if("opinion", "proposal", ENDING, "停保或渐退必须书面说明理由")


class ReviewDecisionForm(FormSchema):
    outcome = outcome_field("复核决定", "提高、降低按重新核算的金额自决定次月起执行；渐退按设置继续发放若干个月后停保")
    reason = Text(load_default=None, allow_none=True,
                  metadata=meta("理由", "停保或渐退时必填，将书面告知保障对象", widget="textarea"))
    opinion = opinion_field("审批意见")

    _reason_when_ending = required_if("reason", "outcome", ENDING, "停保或渐退必须书面说明理由")


class ReviewStopNoticeForm(FormSchema):
    delivered_on = Day(required=True, metadata=meta("送达日期", "停保决定书面告知送达保障对象的日期"))
    note = Text(load_default=None, allow_none=True, metadata=meta("备注", "送达方式、签收情况", widget="textarea"))


register_form("dibao_review_survey", "复核入户调查", ReviewSurveyForm)
register_form("dibao_review_proposal", "复核街道审核", ReviewProposalForm)
register_form("dibao_review_decision", "复核区审批", ReviewDecisionForm)
register_form("dibao_review_stop_notice", "停保书面告知", ReviewStopNoticeForm)

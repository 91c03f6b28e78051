"""Task forms: one marshmallow schema per BPMN ``formKey``, their validation and their JSON Schema.

The engine validates a completed task's data with :func:`validate_form` before it reaches the workflow, so BPMN
conditions can trust the values (``decision`` is exactly ``'approve'`` or ``'reject'``, incomes are numbers).
Cleaned data is JSON-ready (dates as ISO strings) because it is stored in serialized workflow state. Optional
fields that were not sent come back as ``None`` so that a value from an earlier step (every review form writes
``opinion``) is never mistaken for this step's answer. Fields a form does not declare are dropped rather than
refused: clients may send a whole UI state, but only declared fields ever reach the task data.

Written for marshmallow 3.20+ and 4: custom metadata lives in ``metadata=``, defaults in ``load_default=``, and
hooks accept ``**kwargs``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, validate, validates_schema

# --- fields with Chinese messages ------------------------------------------------------------------------------

_BASE_MESSAGES = {
    "required": "此项为必填项",
    "null": "此项不能为空",
    "validator_failed": "取值无效",
}


class Text(fields.String):
    """A string with surrounding whitespace removed, so a blank answer counts as missing."""

    default_error_messages = {**_BASE_MESSAGES, "invalid": "应为文本", "invalid_utf8": "应为有效的 UTF-8 文本"}

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Number(fields.Float):
    default_error_messages = {
        **_BASE_MESSAGES,
        "invalid": "应为数字",
        "too_large": "数字过大",
        "special": "不能是 NaN 或无穷大",
    }


class Int(fields.Integer):
    default_error_messages = {**_BASE_MESSAGES, "invalid": "应为整数", "too_large": "数字过大"}

    def __init__(self, **kwargs):
        # strict: 12.5 must be an error, not silently truncated to 12.
        super().__init__(strict=True, **kwargs)


class Bool(fields.Boolean):
    default_error_messages = {**_BASE_MESSAGES, "invalid": "应为是或否"}


class Day(fields.Date):
    """A calendar date given as ``YYYY-MM-DD`` (a ``date`` object is accepted too); cleaned to the ISO string."""

    default_error_messages = {
        **_BASE_MESSAGES,
        "invalid": "日期格式应为 YYYY-MM-DD",
        "format": "日期格式应为 YYYY-MM-DD",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class TextList(fields.List):
    default_error_messages = {**_BASE_MESSAGES, "invalid": "应为列表"}

    def __init__(self, **kwargs):
        inner = Text(validate=validate.Length(min=1, error="不能为空"))
        super().__init__(inner, **kwargs)


class AccountNumber(Text):
    """Bank card / account number; spaces and hyphens people type for readability are dropped."""

    def _deserialize(self, value, attr, data, **kwargs):
        return re.sub(r"[\s-]", "", super()._deserialize(value, attr, data, **kwargs))


# --- validators ------------------------------------------------------------------------------------------------


class DistinctNames(validate.Validator):
    """At least ``minimum`` different people: the same investigator listed twice is still one person."""

    def __init__(self, minimum: int, who: str):
        self.minimum = minimum
        self.who = who

    def __call__(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValidationError(f"{self.who}不能重复")
        if len(value) < self.minimum:
            raise ValidationError(f"{self.who}不少于 {self.minimum} 人")
        return value


def choice(*values: str) -> validate.OneOf:
    return validate.OneOf(values, error="应为以下之一：{choices}")


def required_if(field: str, when: str, values: tuple[str, ...], message: str):
    """Schema validator: ``field`` must be non-blank when ``when`` is one of ``values``.

    Runs even when other fields have errors, so a reviewer sees every problem in one round.
    """

    @validates_schema(skip_on_field_errors=False)
    def check(self, data, **kwargs):
        if data.get(when) in values and not (data.get(field) or "").strip():
            raise ValidationError(message, field_name=field)

    return check


# --- field factories (labels and help texts are what the UI shows) ---------------------------------------------


def meta(label: str, help_text: str, **extra) -> dict:
    return {"label": label, "help": help_text, **extra}


def decision_field(accept: bool = False):
    if accept:
        return Text(
            required=True,
            validate=choice("accept", "reject"),
            metadata=meta("受理决定", "材料齐全、符合申请条件的予以受理；不予受理须说明理由",
                          choices={"accept": "受理", "reject": "不予受理"}),
        )
    return Text(
        required=True,
        validate=choice("approve", "reject"),
        metadata=meta("结论", "同意或不同意；不同意时必须填写意见", choices={"approve": "同意", "reject": "不同意"}),
    )


def opinion_field(help_text: str = "不同意时必填，将作为书面告知申请人的理由依据"):
    return Text(load_default=None, allow_none=True, metadata=meta("意见", help_text, widget="textarea"))


def names_field(label: str, help_text: str):
    return TextList(required=True, validate=DistinctNames(2, label), metadata=meta(label, help_text))


# --- schemas ---------------------------------------------------------------------------------------------------


class FormSchema(Schema):
    error_messages = {"type": "表单数据应为对象"}

    class Meta:
        unknown = EXCLUDE


class OpinionRequiredWhenRejecting(FormSchema):
    _opinion_when_rejecting = required_if("opinion", "decision", ("reject",), "不同意时必须填写意见")


class ReviewForm(OpinionRequiredWhenRejecting):
    decision = decision_field()
    opinion = opinion_field()


class GenericForm(Schema):
    """Free data for tasks without a formKey: any JSON object is accepted as is."""

    error_messages = {"type": "表单数据应为对象"}

    class Meta:
        unknown = INCLUDE

    @validates_schema
    def _json_ready(self, data, **kwargs):
        try:
            json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise ValidationError("表单数据必须可以保存为 JSON") from exc


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
    verified_monthly_income = Number(
        required=True,
        validate=validate.Range(min=0, error="不能为负数"),
        metadata=meta("核实家庭月收入（元）", "调查核实的全家月收入合计，单位元；不计入奖学金、救助金、计划生育奖励、"
                                       "优抚金，可扣除因病因残和就业必要支出"),
    )
    findings = Text(
        load_default=None,
        allow_none=True,
        metadata=meta("调查情况", "入户核查、邻里走访、信函索证的情况", widget="textarea"),
    )
    visited_on = Day(load_default=None, allow_none=True, metadata=meta("入户日期", "入户调查的日期"))


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
    pass


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
        validate=validate.Length(min=1, error="不能为空"),
        metadata=meta("开户银行", "社会化发放的代发银行及网点"),
    )
    account_number = AccountNumber(
        required=True,
        validate=validate.Regexp(r"^\d{10,25}$", error="账号应为 10 到 25 位数字"),
        metadata=meta("银行账号", "户主本人的银行卡号或存折账号，10 到 25 位数字"),
    )
    first_payment_month = Text(
        required=True,
        validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="月份格式应为 YYYY-MM"),
        metadata=meta("首次发放月份", "自批准次月起发放，格式 YYYY-MM"),
    )


class DibaoRefusalNoticeForm(FormSchema):
    reason = Text(
        required=True,
        validate=validate.Length(min=1, error="不能为空"),
        metadata=meta("不予批准理由", "书面告知申请人的理由", widget="textarea"),
    )
    delivered_on = Day(load_default=None, allow_none=True, metadata=meta("送达日期", "书面告知送达申请人的日期"))


# --- registry --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormDef:
    key: str
    title: str
    schema: type[Schema]


FORMS: dict[str, FormDef] = {}


def register_form(key: str, title: str, schema: type[Schema]) -> FormDef:
    """Add a form; the deploy check rejects diagrams whose formKey is not registered."""
    FORMS[key] = FormDef(key, title, schema)
    return FORMS[key]


register_form("generic", "办理", GenericForm)
register_form("review", "审核", ReviewForm)
register_form("dibao_accept", "低保受理", DibaoAcceptForm)
register_form("dibao_relatives", "近亲属备案核查", DibaoRelativesForm)
register_form("dibao_survey", "入户调查", DibaoSurveyForm)
register_form("dibao_appraisal", "民主评议", DibaoAppraisalForm)
register_form("dibao_street_review", "街道审核", DibaoStreetReviewForm)
register_form("dibao_spot_check", "区入户抽查", DibaoSpotCheckForm)
register_form("dibao_approval", "区审批", DibaoApprovalForm)
register_form("dibao_payment_setup", "发放设置", DibaoPaymentSetupForm)
register_form("dibao_refusal_notice", "书面告知", DibaoRefusalNoticeForm)


class FormError(Exception):
    """Invalid form data; ``fields`` maps each field (``_schema`` for the whole form) to Chinese messages."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("；".join(f"{k}: {'，'.join(v)}" for k, v in fields.items()))


def get_form(form_key: str | None) -> FormDef:
    """The form for a task; a task without a formKey gets the generic one."""
    if not form_key:
        return FORMS["generic"]
    try:
        return FORMS[form_key]
    except KeyError:
        raise KeyError(f"未知表单：{form_key}") from None


def _flatten(messages) -> list[str]:
    # List fields report per-item errors as {index: [...]}: say which item, counting from 1 as people do.
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            prefix = f"第 {key + 1} 项：" if isinstance(key, int) else f"{key}："
            out.extend(prefix + m for m in _flatten(value))
        return out
    if isinstance(messages, (list, tuple)):
        return [m for item in messages for m in _flatten(item)]
    return [str(messages)]


def _json_ready(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def validate_form(form_key: str | None, data: Any) -> dict:
    """Validate and clean a task's submitted data; raise :class:`FormError` with per-field Chinese messages."""
    form = get_form(form_key)
    if not isinstance(data, dict):
        raise FormError({"_schema": ["表单数据应为对象"]})
    try:
        cleaned = form.schema().load(data)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise FormError({key: _flatten(value) for key, value in errors.items()}) from None
    return _json_ready(cleaned)


# --- JSON Schema -----------------------------------------------------------------------------------------------

_TYPES: list[tuple[type, dict]] = [
    # Most specific first: Day is a Date, AccountNumber a Text.
    (fields.Date, {"type": "string", "format": "date"}),
    (fields.Integer, {"type": "integer"}),
    (fields.Number, {"type": "number"}),
    (fields.Boolean, {"type": "boolean"}),
    (fields.String, {"type": "string"}),
    (fields.List, {"type": "array"}),
]


def _field_schema(field: fields.Field) -> dict:
    out: dict[str, Any] = {}
    for cls, spec in _TYPES:
        if isinstance(field, cls):
            out.update(spec)
            break
    if isinstance(field, fields.List):
        out["items"] = _field_schema(field.inner)
    label, help_text = field.metadata.get("label"), field.metadata.get("help")
    if label:
        out["title"] = label
    if help_text:
        out["description"] = help_text
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            out["enum"] = list(v.choices)
            labels = field.metadata.get("choices")
            if labels:
                out["x-enumNames"] = [labels[c] for c in v.choices]
        elif isinstance(v, validate.Range):
            if v.min is not None:
                out["minimum" if v.min_inclusive else "exclusiveMinimum"] = v.min
            if v.max is not None:
                out["maximum" if v.max_inclusive else "exclusiveMaximum"] = v.max
        elif isinstance(v, validate.Length):
            prefix = "Items" if out.get("type") == "array" else "Length"
            if v.min is not None:
                out[f"min{prefix}"] = v.min
            if v.max is not None:
                out[f"max{prefix}"] = v.max
        elif isinstance(v, validate.Regexp):
            out["pattern"] = v.regex.pattern
        elif isinstance(v, DistinctNames):
            out["minItems"] = v.minimum
            out["uniqueItems"] = True
    if field.metadata.get("widget"):
        out["x-widget"] = field.metadata["widget"]
    if field.allow_none and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def json_schema(form_key: str | None) -> dict:
    """JSON Schema of a form for the task UI and the API; ``x-order`` keeps the fields in declaration order."""
    form = get_form(form_key)
    schema = form.schema()
    properties = {name: _field_schema(field) for name, field in schema.fields.items()}
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": form.title,
        "properties": properties,
        "required": [name for name, field in schema.fields.items() if field.required],
        "x-order": list(properties),
        # Undeclared fields are dropped on the server; telling clients not to send them keeps UIs honest.
        "additionalProperties": schema.unknown == INCLUDE,
    }
    return out

"""Form parts for 收入认定, reusable by any program's forms: the income items table and the decisions on check flags.

Both are tables whose errors name the cell, as the household members table does: ``income_items-<row>-<field>``
and ``flag_decisions-<flag>-<field>``. marshmallow would nest a field's errors under the field's name, so the
fields only take the raw table and the schema-level rules below check the rows and report per cell.
"""
from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from .. import income, messages
from .toolkit import MAX_TEXT, FormSchema, meta

FLAG_DECISION_CHOICES = tuple(income.FLAG_DECISIONS)

# What the JSON Schema of a form says about the rows (clients build their tables from it).
_ITEMS_SCHEMA = {"items": {
    "type": "object", "required": ["type", "amount"],
    "properties": {
        "type": {"type": "string", "enum": list(income.INCOME_TYPES),
                 "x-enumNames": [t.label for t in income.INCOME_TYPES.values()],
                 "x-treatment": {k: t.treatment for k, t in income.INCOME_TYPES.items()}},
        "amount": {"type": ["number", "string"], "minimum": 0, "description": "元/月，最多两位小数"},
        "member": {"type": "string", "maxLength": income.MAX_MEMBER, "description": "家庭成员姓名或序号（可空）"},
        "note": {"type": "string", "maxLength": income.MAX_NOTE},
    },
}, "maxItems": income.MAX_ITEMS}
_DECISIONS_SCHEMA = {"type": "object", "additionalProperties": {
    "type": "object", "required": ["decision", "opinion"],
    "properties": {"decision": {"type": "string", "enum": list(FLAG_DECISION_CHOICES),
                                "x-enumNames": list(income.FLAG_DECISIONS.values())},
                   "opinion": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}},
}}


class IncomeItemSchema(FormSchema):
    """One income item as a nested schema, for forms that report errors per item (``fields.Nested``) rather than per
    cell; the same checks as the table (``income.clean_items``), the amount cleaned to a JSON number."""

    type = fields.Raw(required=True, metadata=meta("收入类型", "见 workflows.income.INCOME_TYPES"))
    amount = fields.Raw(required=True, metadata=meta("金额（元/月）", "不能为负数，最多两位小数"))
    member = fields.Raw(load_default=None, metadata=meta("家庭成员", "姓名或序号，可空"))
    note = fields.Raw(load_default=None, metadata=meta("备注", "收入来源等说明"))

    @validates_schema
    def _row(self, data, **kwargs):
        _items, errors = income.clean_items([data])
        if errors:
            raise ValidationError({key.split("-", 1)[1] if "-" in key else "_schema": value
                                   for key, value in errors.items()})

    @post_load
    def _clean(self, data, **kwargs):
        return income.clean_items([data])[0][0]


def income_items_field(label: str = "收入明细", help_text: str | None = None):
    """The income items table: rows ``{type, amount, member?, note?}``, yuan per month (see workflows.income)."""
    return fields.List(
        fields.Raw(), required=True,
        metadata=meta(label, help_text or (
            "按类型逐项登记家庭月收入（元/月）；奖学金、助学金、社会救助金、计划生育奖励扶助金、优抚金不计入收入，"
            "因病因残刚性支出和就业必要成本从收入中扣减；没有收入时可不填任何一行"),
            widget="income-items", json_schema=_ITEMS_SCHEMA),
    )


def income_items_rule(name: str = "income_items"):
    """Schema rule: each row of ``name`` is a valid income item; errors per cell."""

    @validates_schema(skip_on_field_errors=False)
    def check(self, data, **kwargs):
        if name not in data:
            return  # missing or not a list: the field said so already
        _items, errors = income.clean_items(data[name])
        if errors:
            raise ValidationError({(f"{name}-{k}" if k else name): v for k, v in errors.items()})

    return check


def income_figures(name: str = "income_items", total: str = "verified_monthly_income"):
    """post_load: clean ``name`` and add the assessment (``<name>_assessment``) and its countable figure as
    ``total`` — the figure the process compares and computes with."""

    @post_load
    def add(self, data, **kwargs):
        items, _errors = income.clean_items(data.get(name, []))
        assessment = income.countable_income(items)
        data[name] = items
        data["income_assessment"] = assessment.as_json()
        data[total] = income.as_number(assessment.countable)
        return data

    return add


def flag_decisions_field():
    """The street review's decision on each flag the assessment raised: ``{flag: {decision, opinion}}``."""
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=50)), values=fields.Raw(),
        load_default=None, allow_none=True,
        metadata=meta("核对问题认定", "经济状况核对或收入认定中标记的问题，逐项认定（经核实可以排除／问题属实）并填写意见",
                      widget="flag-decisions", json_schema=_DECISIONS_SCHEMA),
    )


def flag_decisions_rule(name: str = "flag_decisions"):
    """Schema rule: each decision is one of the choices and carries an opinion. That every raised flag is decided
    is checked against the task's own data when it completes (``income.check_flag_decisions``)."""

    @validates_schema(skip_on_field_errors=False)
    def check(self, data, **kwargs):
        decisions = data.get(name) or {}
        errors: dict[str, list[str]] = {}
        for key, value in decisions.items():
            if not isinstance(value, dict):
                errors[f"{name}-{key}"] = [messages.NOT_OBJECT]
                continue
            decision = value.get("decision")
            if decision not in FLAG_DECISION_CHOICES:
                errors[f"{name}-{key}-decision"] = [messages.REQUIRED if not decision else "应为“经核实可以排除”或“问题属实”"]
            opinion = value.get("opinion")
            text = opinion.strip() if isinstance(opinion, str) else ""
            if not text:
                errors[f"{name}-{key}-opinion"] = ["对核对问题作出认定时必须填写意见"]
            elif len(text) > MAX_TEXT:
                errors[f"{name}-{key}-opinion"] = [messages.LENGTH_MAX.format(max=MAX_TEXT)]
        if errors:
            raise ValidationError(errors)

    return check


def clean_flag_decisions(name: str = "flag_decisions"):
    """post_load: keep only ``{decision, opinion}`` of each decision, the opinion stripped."""

    @post_load
    def tidy(self, data, **kwargs):
        if data.get(name):
            data[name] = {key: {"decision": value["decision"], "opinion": value["opinion"].strip()}
                          for key, value in data[name].items()}
        return data

    return tidy

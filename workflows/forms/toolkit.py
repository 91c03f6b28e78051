"""The form toolkit: field types with Chinese labels and help texts (``metadata=meta(label, help)``), validators
and field factories shared by every program's task forms, and the base schema they derive from.

Messages come from the one catalog (workflows.messages); a field-specific message (``error=``) says more where
the catalog's general wording would not. Written for marshmallow 3.20+ and 4: custom metadata lives in
``metadata=``, defaults in ``load_default=``, and hooks accept ``**kwargs``.
"""
from __future__ import annotations

import datetime as dt
import re

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from engine.errors import InvalidInput

from .. import messages

# --- fields ----------------------------------------------------------------------------------------------------


# Every free-text answer has an upper bound: an opinion is stored in the workflow state and the case history, and
# a megabyte of it would be carried by every later step. A field with its own Length max keeps that one.
MAX_TEXT = 2000
MAX_NAME = 50
MAX_NAMES = 20


def clean_text(value, name: str, label: str, *, missing: str | None = None, limit: int = MAX_TEXT) -> str | None:
    """A free-text argument of a task action (reason, comment, note) outside any form: stripped, at most `limit`
    characters; blank is None, or refused with `missing` when the text is required."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if missing:
            raise InvalidInput(missing, {name: [missing]})
        return None
    if len(text) > limit:
        raise InvalidInput(f"{label}过长", {name: [f"不能超过 {limit} 字"]})
    return text


class Text(fields.String):
    """A string with surrounding whitespace removed, so a blank answer counts as missing; at most `max_length`
    characters (MAX_TEXT unless a `Length` validator with a max is given)."""

    def __init__(self, *, max_length: int = MAX_TEXT, **kwargs):
        super().__init__(**kwargs)
        if not any(isinstance(v, validate.Length) and v.max is not None for v in self.validators):
            self.validators = [*self.validators, validate.Length(max=max_length)]

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Number(fields.Float):
    """A number; NaN and infinity are refused."""


class Int(fields.Integer):
    """A whole number."""

    def __init__(self, **kwargs):
        # strict: 12.5 must be an error, not silently truncated to 12.
        super().__init__(strict=True, **kwargs)


class Bool(fields.Boolean):
    """是 or 否 (true/false)."""


class Day(fields.Date):
    """A calendar date given as ``YYYY-MM-DD`` (a ``date`` object is accepted too); cleaned to the ISO string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class TextList(fields.List):
    """A list of non-blank texts (names of people, for instance)."""

    def __init__(self, **kwargs):
        inner = Text(validate=[validate.Length(min=1, error=messages.EMPTY), validate.Length(max=MAX_NAME)])
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
    return validate.OneOf(values, error=messages.ONE_OF)


def required_if(field: str, when: str, values: tuple[str, ...], message: str):
    """Schema validator: ``field`` must be non-blank when ``when`` is one of ``values``.

    Runs even when other fields have errors, so a reviewer sees every problem in one round.
    """

    @validates_schema(skip_on_field_errors=False)
    def check(self, data, **kwargs):
        if field not in data:
            return  # the field failed its own check (too long, not text): that message says it already
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
    return TextList(required=True, validate=[validate.Length(max=MAX_NAMES), DistinctNames(2, label)],
                    metadata=meta(label, help_text))


# --- base schemas ----------------------------------------------------------------------------------------------


class FormSchema(Schema):
    error_messages = {"type": messages.FORM_NOT_OBJECT}

    class Meta:
        unknown = EXCLUDE


class OpinionRequiredWhenRejecting(FormSchema):
    _opinion_when_rejecting = required_if("opinion", "decision", ("reject",), "不同意时必须填写意见")

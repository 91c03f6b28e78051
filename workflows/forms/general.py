"""Forms any process can use: ``generic`` (tasks without a formKey: free JSON) and ``review`` (同意/不同意 with an
opinion that is required when rejecting)."""
from __future__ import annotations

import json

from marshmallow import INCLUDE, Schema, ValidationError, validates_schema

from .. import messages
from .registry import register_form
from .toolkit import OpinionRequiredWhenRejecting, decision_field, opinion_field


class ReviewForm(OpinionRequiredWhenRejecting):
    decision = decision_field()
    opinion = opinion_field()


class GenericForm(Schema):
    """Free data for tasks without a formKey: any JSON object is accepted as is."""

    error_messages = {"type": messages.FORM_NOT_OBJECT}

    class Meta:
        unknown = INCLUDE

    @validates_schema
    def _json_ready(self, data, **kwargs):
        try:
            json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise ValidationError("表单数据必须可以保存为 JSON") from exc


register_form("generic", "办理", GenericForm)
register_form("review", "审核", ReviewForm)

"""Task forms: the toolkit (workflows.forms.toolkit), the registry with validation and JSON Schema
(workflows.forms.registry), and one module per program registering its forms (general, dibao).

Importing the package registers every form; callers use the names re-exported here.
"""
from __future__ import annotations

from . import (  # noqa: F401 - imported for their register_form calls
    complaint,  # noqa: F401 - 投诉举报 forms
    dibao,
    general,
    linshi,  # noqa: F401 - 临时救助 forms
    review,
    tekun,  # noqa: F401 - 特困人员供养 forms
    zhuanxiang,  # noqa: F401 - 专项救助 forms
)
from .registry import FORMS, FormDef, FormError, get_form, json_schema, register_form, validate_form

__all__ = ["FORMS", "FormDef", "FormError", "get_form", "json_schema", "register_form", "validate_form"]

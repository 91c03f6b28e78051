"""Task forms: the toolkit (workflows.forms.toolkit), the registry with validation and JSON Schema
(workflows.forms.registry), and one module per program registering its forms (general, dibao).

Importing the package registers every form; callers use the names re-exported here.
"""
from __future__ import annotations

from . import dibao, general, review  # noqa: F401 - imported for their register_form calls
from .registry import FORMS, FormDef, FormError, get_form, json_schema, register_form, validate_form

__all__ = ["FORMS", "FormDef", "FormError", "get_form", "json_schema", "register_form", "validate_form"]

"""Checks every request passes before any view sees it (registered by web.errors.init_app):

- a body cap per kind of request: JSON and other non-upload API and webhook calls at most 1 MB, diagram uploads
  16 MB (web.api.definitions), attachments 10 MB + envelope (web.ui.tasks) — the application-wide
  `MAX_CONTENT_LENGTH` (16 MB) stays the ceiling;
- text that cannot be stored (a lone surrogate, see workflows.utf8) in the JSON body, the query string or a posted
  form is refused with a 422 naming the field, before it reaches the database or the workflow state.
"""
from __future__ import annotations

from flask import Flask, request

from engine.errors import InvalidInput
from workflows import messages
from workflows.utf8 import utf8_problems

# JSON (and other non-multipart) bodies of API and webhook calls.
MAX_JSON_BYTES = 1024 * 1024
# Requests that carry a diagram: capped by web.api.definitions (16 MB body, 5 MB diagram) instead.
DIAGRAM_ENDPOINTS = frozenset({"api_definitions.create", "api_definitions.validate_only", "api_definitions.save_draft"})


def _is_machine_call() -> bool:
    return request.path.startswith(("/api/", "/webhooks/"))


def _cap_body() -> None:
    if request.endpoint in DIAGRAM_ENDPOINTS or request.mimetype == "multipart/form-data":
        return
    if _is_machine_call() or request.is_json:
        current = request.max_content_length
        if current is None or current > MAX_JSON_BYTES:
            request.max_content_length = MAX_JSON_BYTES


def _check_text() -> None:
    problems: dict[str, list[str]] = {}
    if request.args:
        problems.update(utf8_problems(request.args.to_dict(flat=False), limit=10))
    if request.mimetype == "application/x-www-form-urlencoded" and request.form:
        problems.update(utf8_problems(request.form.to_dict(flat=False), limit=10))
    # Inbound webhooks check their own body, after the signature: an unsigned request is refused as such first.
    if request.is_json and request.method not in ("GET", "HEAD", "OPTIONS") \
            and request.blueprint != "webhooks_inbound":
        try:
            body = request.get_json(silent=True)  # cached: the view's json_body() reads the same object
        except RecursionError as exc:  # absurdly deep nesting: refuse it, do not crash on it
            raise InvalidInput("请求体嵌套层级过深", {"body": ["嵌套层级过深"]}) from exc
        if body is not None:
            problems.update(utf8_problems(body))
    if problems:
        # One-element lists come back as `name.0` from a MultiDict: the field is what people know.
        fields = {}
        for path, found in problems.items():
            name = path[:-2] if path.endswith(".0") and path.count(".") == 1 else path
            fields[name] = found
        raise InvalidInput(f"提交的数据有误：{messages.NOT_UTF8}", fields)


def init_app(app: Flask) -> None:
    @app.before_request
    def _guard_input():
        _cap_body()
        _check_text()

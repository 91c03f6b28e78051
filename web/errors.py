"""One error handler: every exception becomes JSON for API calls and a Chinese HTML page for browsers."""
from __future__ import annotations

import logging

from flask import Flask, abort, jsonify, render_template, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from engine.errors import (
    Conflict,
    EngineError,
    Forbidden,
    InvalidDefinition,
    InvalidInput,
    NotFound,
    ScriptError,
)
from workflows import messages

from . import input_guard
from .extensions import db

log = logging.getLogger(__name__)


class Unauthorized(EngineError):
    code = "unauthorized"


STATUS = {
    InvalidDefinition: 422,
    InvalidInput: 422,
    ScriptError: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Unauthorized: 401,
}

HTTP_MESSAGES = {
    400: "请求格式有误",
    401: "请先登录",
    403: "无权访问",
    404: "页面或资源不存在",
    405: "不支持该请求方法",
    409: "状态已变化，请刷新后重试",
    413: "上传内容过大",
    415: "不支持的内容类型",
    422: "提交的数据有误",
    429: "请求过于频繁",
    500: "服务器内部错误",
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/", "/health")) or request.accept_mimetypes.best == \
        "application/json"


def error_response(status: int, code: str, message: str, fields: dict | None = None, extra: dict | None = None):
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if extra:
        body.update(extra)
    if _wants_json():
        return jsonify({"error": body}), status
    return render_template("error.html", status=status, error=body), status


MAX_ID = 2**63 - 1


def init_app(app: Flask) -> None:
    input_guard.init_app(app)

    @app.url_value_preprocessor
    def _ids_in_range(endpoint, values):
        # /tasks/99999999999999999999 is simply not there; the database would overflow on it instead.
        for value in (values or {}).values():
            if isinstance(value, int) and not 0 < value <= MAX_ID:
                abort(404)

    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        extra = None
        fields = getattr(exc, "fields", None)
        if isinstance(exc, InvalidDefinition):
            extra = {"problems": [p.as_dict() for p in exc.problems]}
        return error_response(status, exc.code, str(exc), fields, extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        # A 413 says which cap applied (web.input_guard: 1 MB for JSON, more for uploads).
        extra = {"limit_bytes": request.max_content_length} if status == 413 and request.max_content_length else None
        return error_response(status, exc.name.lower().replace(" ", "_"), HTTP_MESSAGES.get(status, exc.name),
                              extra=extra)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _out_of_range(exc: Exception):
        # A number a client sent that no column can hold (an id or offset beyond 64 bits): their input, not our
        # fault. The request's session is rolled back when it ends.
        db.session.rollback()
        return error_response(422, "validation_error", "数值超出范围")

    @app.errorhandler(UnicodeEncodeError)
    def _not_storable_text(exc: UnicodeEncodeError):
        # Safety net behind web.input_guard: text that does not encode to UTF-8 (a lone surrogate) is the
        # client's input wherever it was caught — a field we did not check on entry, never our fault.
        db.session.rollback()
        log.warning("text that is not UTF-8 reached %s %s", request.method, request.path)
        return error_response(422, "validation_error", f"{HTTP_MESSAGES[422]}：{messages.NOT_UTF8}")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", HTTP_MESSAGES[500])

"""Sending a stored attachment (or a generated file) to the browser, shared by the API and the pages."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app, send_file

from engine.errors import NotFound
from workflows import attachments as attachment_store
from workflows.models import Attachment


def attachment_folder():
    return attachment_store.storage_folder(current_app.instance_path)


def send_attachment(row: Attachment):
    """The stored file as a download under its cleaned original name; never sniffed or run by the browser."""
    path = attachment_store.path_of(attachment_folder(), row)
    if not path.exists():
        raise NotFound("附件文件已丢失，请联系管理员")
    response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.original_name,
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def generated_file(content: bytes, filename: str, mimetype: str) -> Response:
    """A file made on request (a bank file) as a download: the Chinese name as RFC 5987 `filename*`, an ASCII
    fallback, never cached."""
    ascii_name = "download." + filename.rsplit(".", 1)[-1]
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

"""Sending a stored attachment to the browser, shared by the task API and the case page."""
from __future__ import annotations

from flask import current_app, send_file

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

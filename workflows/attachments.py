"""Case attachments: size and type limits, storage outside the database, safe names.

* At most 10 MB per file; PDF, JPG/PNG, Word (doc/docx) and Excel (xls/xlsx) only, checked by the extension
  **and** by the first bytes of the content (a renamed executable is refused), and a docx/xlsx carrying macros
  (``vbaProject.bin``) is refused too.
* The bytes go to ``<instance folder>/attachments/<uuid hex>``: the name the uploader chose never touches the file
  system. It is kept, cleaned, only as metadata and offered as the download name.
* Downloads go through views that check ``access.can_see_case`` first.
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, NotFound
from engine.models import AuditEntry, HumanTask

from .audit_actions import CaseAction
from .models import Attachment, Case

MAX_BYTES = 10 * 1024 * 1024
MAX_NAME = 120
_CHUNK = 64 * 1024

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class FileType:
    label: str
    content_type: str
    magic: tuple[bytes, ...]
    zip_folder: str | None = None  # an Office Open XML file: the zip must hold this folder


TYPES: dict[str, FileType] = {
    "pdf": FileType("PDF", "application/pdf", (b"%PDF-",)),
    "jpg": FileType("JPG", "image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": FileType("JPG", "image/jpeg", (b"\xff\xd8\xff",)),
    "png": FileType("PNG", "image/png", (b"\x89PNG\r\n\x1a\n",)),
    "doc": FileType("Word", "application/msword", (_OLE2,)),
    "docx": FileType("Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (_ZIP,),
                     "word/"),
    "xls": FileType("Excel", "application/vnd.ms-excel", (_OLE2,)),
    "xlsx": FileType("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (_ZIP,), "xl/"),
}
ACCEPT = ",".join(f".{ext}" for ext in TYPES)
ALLOWED_TEXT = "PDF、JPG、PNG、Word（doc/docx）、Excel（xls/xlsx）"


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, {"file": [message]})


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sanitize_filename(name: str | None) -> str:
    """A display/download name: no directories, control or reserved characters, at most 120 characters."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    text = re.sub(r'[<>:"|?*;]', "_", text).strip(" .")
    if len(text) > MAX_NAME:
        ext = extension_of(text)
        keep = MAX_NAME - len(ext) - 1 if ext and len(ext) < 10 else MAX_NAME
        text = text[:keep].rstrip(" .") + (f".{ext}" if ext and len(ext) < 10 else "")
    return text or "附件"


def storage_folder(instance_path: str | os.PathLike) -> Path:
    return Path(instance_path) / "attachments"


def _check_content(path: Path, kind: FileType) -> None:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not any(head.startswith(magic) for magic in kind.magic):
        raise _refuse(f"文件内容与扩展名不符（不是有效的 {kind.label} 文件）")
    if kind.zip_folder:
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()  # reads the directory only, never decompresses
        except (zipfile.BadZipFile, OSError) as exc:
            raise _refuse(f"文件已损坏或不是有效的 {kind.label} 文件") from exc
        if "[Content_Types].xml" not in names or not any(n.startswith(kind.zip_folder) for n in names):
            raise _refuse(f"文件内容与扩展名不符（不是有效的 {kind.label} 文件）")
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise _refuse("不接受带宏的 Office 文件，请另存为不含宏的格式")


def save_attachment(session: Session, folder: Path, stream: BinaryIO, filename: str | None, *, case: Case,
                    task: HumanTask | None, user: str, now: datetime) -> Attachment:
    """Check and store one upload; the caller commits (and calls `discard` if its transaction fails)."""
    original = sanitize_filename(filename)
    ext = extension_of(original)
    kind = TYPES.get(ext)
    if not filename:
        raise _refuse("请选择要上传的文件")
    if kind is None:
        raise _refuse(f"不支持的文件类型{f'（.{ext}）' if ext else ''}：只能上传 {ALLOWED_TEXT} 文件")
    folder.mkdir(parents=True, exist_ok=True)
    stored = uuid4().hex
    partial = folder / f"{stored}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(partial, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise _refuse(f"文件过大：单个附件不能超过 {MAX_BYTES // (1024 * 1024)} MB")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise _refuse("文件为空")
        _check_content(partial, kind)
        os.replace(partial, folder / stored)
    finally:
        partial.unlink(missing_ok=True)
    row = Attachment(case_id=case.id, task_id=task.id if task else None, element_name=task.name if task else None,
                     stored_name=stored, original_name=original, content_type=kind.content_type, size=size,
                     sha256=digest.hexdigest(), uploaded_by=user, uploaded_at=now)
    session.add(row)
    return row


def attach_to_task(session: Session, folder: Path, stream: BinaryIO, filename: str | None, *, case: Case,
                   task: HumanTask, user: str, now: datetime) -> Attachment:
    """Store an upload for a task and record it in the case history, committed together.

    If the commit fails the stored file is removed again, so no file is left without its row.
    """
    row = save_attachment(session, folder, stream, filename, case=case, task=task, user=user, now=now)
    try:
        session.add(AuditEntry(instance_id=task.instance_id, task_id=task.id, at=now, actor=user,
                               action=CaseAction.ATTACHMENT_UPLOADED, element_id=task.element_id, element_name=task.name,
                               detail={"name": row.original_name, "size": row.size}))
        session.commit()
    except BaseException:
        session.rollback()
        discard(folder, row)
        raise
    return row


def discard(folder: Path, row: Attachment) -> None:
    """Remove a stored file whose row was not committed."""
    path_of(folder, row).unlink(missing_ok=True)


def path_of(folder: Path, row: Attachment) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", row.stored_name or ""):
        raise NotFound("附件不存在")
    return folder / row.stored_name


def of_case(session: Session, case_id: int) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)))


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"

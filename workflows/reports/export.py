"""The overdue list as an Excel workbook (write-only openpyxl, so even 100,000 rows stay within modest memory)."""
from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from engine.clock import SHANGHAI

from ..roles import ROLES

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_MAX_ROWS = 100_000
EXPORT_COLUMNS = (
    ("任务编号", "id"), ("案件编号", "case_id"), ("申请人", "applicant_name"), ("环节", "name"),
    ("岗位", "role_name"), ("单位", "agency"), ("街道", "street"), ("社区", "community"), ("办理人", "assignee"),
    ("创建时间", "created_at"), ("到期时间", "due_at"), ("逾期工作日", "overdue_working_days"),
    ("升级级别", "escalation_level"), ("已升级至", "escalate_to_name"), ("升级时间", "escalated_at"),
)
_WIDTHS = (10, 10, 10, 16, 18, 12, 12, 14, 14, 18, 18, 10, 10, 18, 18)


def overdue_workbook(rows: Iterable[dict], *, title: str, as_of: datetime) -> bytes:
    """Rows of workflows.reports.overdue.overdue_rows → the bytes of an .xlsx file, local times, Chinese headers."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("逾期任务")
    sheet.freeze_panes = "A3"
    for letter, width in zip("ABCDEFGHIJKLMNO", _WIDTHS, strict=True):
        sheet.column_dimensions[letter].width = width
    heading = WriteOnlyCell(sheet, value=f"{title}（截至 {_local(as_of)}）")
    heading.font = Font(bold=True, size=13)
    sheet.append([heading])
    header = []
    for label, _key in EXPORT_COLUMNS:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    role_names = {k: r.name for k, r in ROLES.items()}
    for count, row in enumerate(rows):
        if count >= EXPORT_MAX_ROWS:
            sheet.append([f"仅导出前 {EXPORT_MAX_ROWS} 行，请缩小筛选范围"])
            break
        values = dict(row, role_name=role_names.get(row["role"] or "", row["role"]),
                      escalate_to_name=role_names.get(row["escalate_to"] or "", row["escalate_to"]) if
                      row["escalation_level"] else None)
        out = []
        for _label, key in EXPORT_COLUMNS:
            value = values.get(key)
            if key in ("created_at", "due_at", "escalated_at") and value:
                value = datetime.fromisoformat(value).astimezone(SHANGHAI).replace(tzinfo=None)
            out.append(value)
        sheet.append(out)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _local(instant: datetime) -> str:
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def export_filename(now: datetime) -> str:
    return f"逾期任务_{now.astimezone(SHANGHAI).strftime('%Y%m%d_%H%M')}.xlsx"

"""The register as an Excel workbook (write-only openpyxl: a district's whole register stays within modest memory).

Names are masked and ID numbers left out, as on the page; amounts are numbers with 2 places so the sheet can sum
them (openpyxl writes a Decimal as a number).
"""
from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from engine.clock import SHANGHAI

from ..idcard import mask_name
from ..programs import PROGRAMS
from .models import Recipient
from .review_schedule import CATEGORY_NAMES

STATUS_NAMES = {"active": "正常保障", "suspended": "暂停", "exiting": "渐退中", "stopped": "已停保"}
AREA_NAMES = {"urban": "城市", "rural": "农村"}
EXPORT_MAX_ROWS = 200_000
COLUMNS = ("编号", "案件编号", "救助项目", "户主", "人数", "街道", "社区", "城乡", "类别", "月保障金（元）", "状态",
           "起始月份", "终止月份", "下次复核")
_WIDTHS = (8, 10, 14, 10, 6, 12, 14, 6, 16, 14, 10, 10, 10, 12)


def register_workbook(rows: Iterable[Recipient], *, title: str, as_of: datetime) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("保障对象台账")
    sheet.freeze_panes = "A3"
    for index, width in enumerate(_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    heading = WriteOnlyCell(sheet, value=f"{title}（截至 {as_of.astimezone(SHANGHAI):%Y-%m-%d %H:%M}）")
    heading.font = Font(bold=True, size=13)
    sheet.append([heading])
    header = []
    for label in COLUMNS:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for count, r in enumerate(rows):
        if count >= EXPORT_MAX_ROWS:
            sheet.append([f"仅导出前 {EXPORT_MAX_ROWS} 行，请缩小筛选范围"])
            break
        program = PROGRAMS.get(r.program)
        amount = WriteOnlyCell(sheet, value=r.monthly_amount)
        amount.number_format = "#,##0.00"
        sheet.append([r.id, r.case_id, program.name if program else r.program, mask_name(r.head_name),
                      r.household_size, r.street, r.community, AREA_NAMES.get(r.area, r.area),
                      CATEGORY_NAMES.get(r.category, r.category), amount, STATUS_NAMES.get(r.status.value),
                      r.since_month, r.end_month, r.next_review_due])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def register_filename(now: datetime) -> str:
    return f"保障对象台账_{now.astimezone(SHANGHAI):%Y%m%d_%H%M}.xlsx"

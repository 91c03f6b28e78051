"""A generated Excel workbook as a download (the overdue list), shared by the report API and the dashboard."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response

from workflows.reports.export import XLSX_MIMETYPE


def xlsx_response(data: bytes, filename: str, ascii_name: str = "overdue.xlsx") -> Response:
    """An .xlsx attachment; the Chinese file name travels as RFC 5987 `filename*`, `ascii_name` otherwise."""
    response = Response(data, mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(filename)}"
    return response

"""The supervisor's reports, answered from the task projection: overdue counts and lists (`overdue`), totals,
ageing and trend (`summary`), the overdue list as an Excel workbook (`export`). The API (web.api.reports) and the
dashboard pages (web.ui.dashboard) both call these, so the page and the API always show the same numbers."""

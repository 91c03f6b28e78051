"""The joint conference's page (救助信息共享): possible duplicate and missed aid, and the quarterly report per agency
with its Excel download. The same services as the API (workflows.aid.queries / quarterly)."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.clock import SHANGHAI
from workflows import access
from workflows.agencies import AGENCIES
from workflows.aid.quarterly import Quarter, quarterly_filename, quarterly_report, quarterly_workbook
from workflows.aid.queries import REPORT_ROLES, duplicate_aid, missed_aid

from ..engine_access import engine
from ..extensions import db
from ..spreadsheet import xlsx_response
from .common import page_user, roles_required
from .labels import register_filters

bp = Blueprint("aid_reports_ui", __name__, url_prefix="/reports/aid")
register_filters(bp)

PAGE_LIMIT = 200  # rows per list on the page; the API gives more


def _chosen() -> tuple[Quarter, str | None]:
    """The quarter and agency asked for in the query string; anything unreadable falls back to this quarter / all
    agencies (a page never errs on a hand-edited address). Agency staff always get their own agency."""
    user = page_user()
    current = Quarter.of(engine().now().astimezone(SHANGHAI).date())
    year_text, quarter_text = request.args.get("year", ""), request.args.get("quarter", "")
    year = int(year_text) if year_text.isdecimal() and 2000 <= int(year_text) <= 2100 else current.year
    number = int(quarter_text) if quarter_text in ("1", "2", "3", "4") else current.number
    agency = request.args.get("agency") if request.args.get("agency") in AGENCIES else None
    if access.is_agency_staff(user):
        agency = user.agency
    return Quarter(year, number), agency


@bp.get("")
@roles_required(*REPORT_ROLES)
def index():
    """Duplicate and missed aid in my jurisdiction, and the quarterly report."""
    user = page_user()
    today = engine().now().astimezone(SHANGHAI).date()
    quarter, agency = _chosen()
    report = quarterly_report(db.session, user, quarter, agency)
    return render_template(
        "aid_reports/index.html", today=today, report=report, agency=agency,
        duplicates=duplicate_aid(db.session, user, today, limit=PAGE_LIMIT),
        missed=missed_aid(db.session, user, today, limit=PAGE_LIMIT), limit=PAGE_LIMIT,
        agencies=[] if access.is_agency_staff(user) else list(AGENCIES),
        years=list(range(today.year, today.year - 5, -1)),
        export_args={k: v for k, v in {"year": quarter.year, "quarter": quarter.number, "agency": agency}.items()
                     if v},
    )


@bp.get("/quarterly.xlsx")
@roles_required(*REPORT_ROLES)
def export():
    """The quarterly report shown on the page, as Excel."""
    quarter, agency = _chosen()  # agency staff: always their own agency
    report = quarterly_report(db.session, page_user(), quarter, agency)
    return xlsx_response(quarterly_workbook(report), quarterly_filename(report), ascii_name="quarterly.xlsx")

"""The quarterly report of work and fund use per agency and program (the seeds: 按季度报送工作和资金使用情况).

For a year and quarter (on the Shanghai calendar), one row per (agency, program):

- cases: received in the quarter, approved / refused / terminated (终止 by an admin or the district approver:
  CaseStatus.CLOSED) in it (decided in it), in progress at its end (opened before its end and not decided by
  then); a case belongs to its program's lead agency;
- aid granted, from the aid register (revoked records left out), by the granting agency: one-off amounts whose
  period starts in the quarter, plus each monthly amount × the quarter's months the record is in force;
  households reached: the cases (households) with such a record;
- funds used: for 低保/特困 the payment runs' paid lines of the quarter's months; for the other programs (paid by
  their agency with the decision, no payment runs here) the aid granted in the quarter.

Money is Decimal throughout (strings of 2 places in `quarterly_item`). Scoped like cases: the user's
jurisdiction; agency staff only their own agency's rows.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI

from .. import access
from ..models import Case, CaseStatus, User
from ..programs import PROGRAMS
from ..register.amounts import money_text
from ..register.models import Payment, PaymentRun, PaymentStatus
from ..register.months import first_day, last_day
from .models import AidRecord, AidStatus
from .queries import FAR_FUTURE, kind_name, period_end

ZERO = Decimal("0.00")
PAID_MONTHLY = ("dibao", "tekun")  # funds used = the payment runs' paid totals


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int  # 1–4

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def month_numbers(self) -> tuple[int, int, int]:
        first = (self.number - 1) * 3 + 1
        return first, first + 1, first + 2

    @property
    def months(self) -> list[str]:
        return [f"{self.year:04d}-{m:02d}" for m in self.month_numbers]

    @property
    def first_day(self) -> date:
        return date(self.year, self.month_numbers[0], 1)

    @property
    def last_day(self) -> date:
        return last_day(self.months[2])

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as UTC instants: midnight in Shanghai of the quarter's first day and of the next one."""
        start = datetime.combine(self.first_day, datetime.min.time(), SHANGHAI)
        end = datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), SHANGHAI)
        return start.astimezone(UTC), end.astimezone(UTC)

    @property
    def label(self) -> str:
        return f"{self.year}年第{self.number}季度"


def months_in_force(record: AidRecord, quarter: Quarter) -> int:
    """How many of the quarter's months the record is in force in (any day of the month counts)."""
    end = period_end(record)
    count = 0
    for number in quarter.month_numbers:
        month = f"{quarter.year:04d}-{number:02d}"
        if record.period_from <= last_day(month) and end >= first_day(month):
            count += 1
    return count


def granted_in(record: AidRecord, quarter: Quarter) -> tuple[Decimal, bool]:
    """(amount granted in the quarter, whether the record counts in it): monthly amount × months in force, or the
    one-off amount when its period starts in the quarter."""
    amount = record.amount if record.amount is not None else ZERO
    if record.monthly:
        months = months_in_force(record, quarter)
        return (amount * months).quantize(ZERO), months > 0
    counts = quarter.first_day <= record.period_from <= quarter.last_day
    return (amount if counts else ZERO), counts


@dataclass
class QuarterRow:
    agency: str
    program: str
    received: int = 0
    approved: int = 0
    refused: int = 0
    terminated: int = 0
    in_progress: int = 0
    aid_records: int = 0
    one_off_amount: Decimal = ZERO
    monthly_amount: Decimal = ZERO
    households: set = field(default_factory=set)
    funds_used: Decimal = ZERO

    @property
    def granted(self) -> Decimal:
        return self.one_off_amount + self.monthly_amount


def _case_scope(user: User):
    if access.is_agency_staff(user):
        return and_(access.scope_filter(user, Case), Case.program.in_(access.led_programs(user.agency)))
    return access.case_filter(user)


def _case_counts(session: Session, user: User, quarter: Quarter) -> list[tuple[str, int, int, int, int, int]]:
    start, end = quarter.bounds()
    decided_in = and_(Case.decided_at >= start, Case.decided_at < end)

    def counted(condition):
        return func.sum(case((condition, 1), else_=0))

    rows = session.execute(
        select(Case.program,
               counted(and_(Case.created_at >= start, Case.created_at < end)),
               counted(and_(decided_in, Case.status == CaseStatus.APPROVED)),
               counted(and_(decided_in, Case.status == CaseStatus.REFUSED)),
               counted(and_(decided_in, Case.status == CaseStatus.CLOSED)),
               counted(and_(Case.created_at < end, or_(Case.decided_at.is_(None), Case.decided_at >= end))))
        .where(_case_scope(user), Case.created_at < end, or_(Case.decided_at.is_(None), Case.decided_at >= start))
        .group_by(Case.program))
    return [(program, *(int(n or 0) for n in counts)) for program, *counts in rows]


def _aid_records(session: Session, user: User, quarter: Quarter):
    condition = access.scope_filter(user, AidRecord)
    if access.is_agency_staff(user):
        condition = and_(condition, AidRecord.agency == user.agency)
    return session.scalars(
        select(AidRecord).where(condition, AidRecord.status != AidStatus.REVOKED,
                                AidRecord.period_from <= quarter.last_day,
                                func.coalesce(AidRecord.period_to, FAR_FUTURE) >= quarter.first_day)
        .order_by(AidRecord.id).execution_options(yield_per=1000))


def _funds_used(session: Session, user: User, quarter: Quarter) -> list[tuple[str, Decimal]]:
    """Paid payment lines of the quarter's months, per program, in the user's jurisdiction."""
    conditions = [PaymentRun.month.in_(quarter.months), PaymentRun.program.in_(PAID_MONTHLY),
                  Payment.status == PaymentStatus.PAID]
    if user.role not in access.WHOLE_SYSTEM and access.level_of(user) != "all":
        conditions.append(PaymentRun.district == user.district)
        if access.level_of(user) in ("street", "community"):
            conditions.append(Payment.street == user.street)
    if access.is_agency_staff(user):
        conditions.append(PaymentRun.program.in_(access.led_programs(user.agency)))
    rows = session.execute(select(PaymentRun.program, func.sum(Payment.amount))
                           .join(Payment, Payment.run_id == PaymentRun.id).where(*conditions)
                           .group_by(PaymentRun.program))
    return [(program, Decimal(str(total or 0)).quantize(ZERO)) for program, total in rows]


def quarterly_rows(session: Session, user: User, quarter: Quarter, agency: str | None = None) -> list[QuarterRow]:
    """The report's rows, sorted by agency and program (see the module docstring)."""
    rows: dict[tuple[str, str], QuarterRow] = {}

    def row(agency_name: str, program: str) -> QuarterRow:
        key = (agency_name, program)
        if key not in rows:
            rows[key] = QuarterRow(agency_name, program)
        return rows[key]

    def lead(program: str) -> str:
        return PROGRAMS[program].lead_agency if program in PROGRAMS else "—"

    for program, received, approved, refused, terminated, in_progress in _case_counts(session, user, quarter):
        target = row(lead(program), program)
        target.received, target.approved, target.refused, target.terminated, target.in_progress = \
            received, approved, refused, terminated, in_progress
    for record in _aid_records(session, user, quarter):
        amount, counts = granted_in(record, quarter)
        if not counts:
            continue
        target = row(record.agency, record.program)
        target.aid_records += 1
        if record.monthly:
            target.monthly_amount += amount
        else:
            target.one_off_amount += amount
        target.households.add(record.case_id if record.case_id is not None else f"aid-{record.id}")
    for program, total in _funds_used(session, user, quarter):
        row(lead(program), program).funds_used = total
    for target in rows.values():
        if target.program not in PAID_MONTHLY:
            target.funds_used = target.granted
    chosen = [r for r in rows.values() if agency is None or r.agency == agency]
    if access.is_agency_staff(user):
        chosen = [r for r in chosen if r.agency == user.agency]
    return sorted(chosen, key=lambda r: (r.agency, r.program))


def quarterly_item(row: QuarterRow) -> dict:
    return {
        "agency": row.agency, "program": row.program, "program_name": kind_name(row.program),
        "received": row.received, "approved": row.approved, "refused": row.refused, "terminated": row.terminated,
        "in_progress": row.in_progress,
        "aid_records": row.aid_records, "one_off_amount": money_text(row.one_off_amount),
        "monthly_amount": money_text(row.monthly_amount), "granted_amount": money_text(row.granted),
        "households": len(row.households), "funds_used": money_text(row.funds_used),
    }


def totals(rows: list[QuarterRow]) -> dict:
    households: set = set()
    for r in rows:
        households |= r.households
    return {
        "received": sum(r.received for r in rows), "approved": sum(r.approved for r in rows),
        "refused": sum(r.refused for r in rows), "terminated": sum(r.terminated for r in rows),
        "in_progress": sum(r.in_progress for r in rows),
        "aid_records": sum(r.aid_records for r in rows),
        "granted_amount": money_text(sum((r.granted for r in rows), ZERO)),
        "households": len(households),
        "funds_used": money_text(sum((r.funds_used for r in rows), ZERO)),
    }


def quarterly_report(session: Session, user: User, quarter: Quarter, agency: str | None = None) -> dict:
    rows = quarterly_rows(session, user, quarter, agency)
    return {"year": quarter.year, "quarter": quarter.number, "label": quarter.label, "months": quarter.months,
            "agency": agency, "items": [quarterly_item(r) for r in rows], "totals": totals(rows)}


QUARTERLY_COLUMNS = (
    ("单位", "agency"), ("救助项目", "program_name"), ("受理", "received"), ("批准", "approved"),
    ("不予批准", "refused"), ("已终止", "terminated"), ("办理中（季末）", "in_progress"), ("救助记录", "aid_records"),
    ("一次性救助金额（元）", "one_off_amount"), ("按月救助金额（元）", "monthly_amount"),
    ("救助金额合计（元）", "granted_amount"), ("救助户数", "households"), ("资金使用（元）", "funds_used"),
)
MONEY_KEYS = frozenset({"one_off_amount", "monthly_amount", "granted_amount", "funds_used"})


def quarterly_workbook(report: dict) -> bytes:
    """The report of `quarterly_report` as an .xlsx file: a title, Chinese headers, one line per row, a total line.
    Amounts are written as numbers with 2 places (from their Decimal text, never through float arithmetic)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "季度报表"
    title = f"社会救助工作和资金使用季度报表（{report['label']}{'，' + report['agency'] if report['agency'] else ''}）"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([label for label, _key in QUARTERLY_COLUMNS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for item in report["items"]:
        sheet.append([_cell(item.get(key), key) for _label, key in QUARTERLY_COLUMNS])
    total = dict(report["totals"], agency="合计", program_name="", one_off_amount=None, monthly_amount=None)
    sheet.append([_cell(total.get(key), key) for _label, key in QUARTERLY_COLUMNS])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFGHIJKLM", (14, 22, 8, 8, 10, 8, 14, 10, 18, 18, 18, 10, 16), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=3):
        for cell, (_label, key) in zip(row, QUARTERLY_COLUMNS, strict=False):
            if key in MONEY_KEYS:
                cell.number_format = "#,##0.00"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value, key: str):
    if key in MONEY_KEYS and value is not None:
        return Decimal(value)
    return value


def quarterly_filename(report: dict) -> str:
    return f"季度报表_{report['year']}Q{report['quarter']}{'_' + report['agency'] if report['agency'] else ''}.xlsx"

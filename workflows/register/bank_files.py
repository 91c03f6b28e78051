"""The bank file of a confirmed run (CSV or xlsx) and the bank's result file, imported all or nothing.

**Bank file.** One row per account with the lines still to pay (`pending`): 序号, 户名, 证件号码 (masked: the
bank matches on the account), 开户行, 账号, 金额 (the sum of the account's lines), 明细编号 (the line ids, separated
by spaces), then a control-total row `合计` with the number of rows and the sum. The first export moves the run
from `confirmed` to `exported`; lines without an account cannot go to the bank and are marked failed ("缺少银行账户
信息") at that moment, so finance sees them among the failures.

Text from the register (户名, 开户行, 账号 …) could start like a spreadsheet formula (`=`, `+`, `-`, `@`, tab, CR) and
run when the file is opened in Excel. In the CSV such a cell gets a leading apostrophe (Excel shows the text, not
a formula); in the xlsx every text cell is written as a string cell, which Excel never evaluates, so the text stays
exactly as registered. Amounts are written as exact decimal numbers in the xlsx (never through float).

**Result file** (CSV, UTF-8 or GB18030): a header row naming the columns — `line_id`/`明细编号` or
`account`/`账号` to identify, `amount`/`金额`, `result`/`结果` (`paid`/`成功` or `failed`/`失败`), `reason`/`原因` —
and optionally a control-total row whose first cell is `合计` (or `total`) followed by the number of result rows and
their sum. A row by account settles all of that account's pending lines and must carry their sum. Every row is
checked before anything is written: an unknown account or line, an amount that does not match, a line already
settled or named twice, a bad result or a wrong control total → 422 naming each line and its problem, nothing
imported. A file the CSV reader cannot read (an oversized field, …) is the same 422 naming the line. Lines may end
in CRLF, LF or a lone CR (old Mac exports). When no pending line is left the run closes.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.errors import Conflict, InvalidInput

from ..idcard import mask_id_number
from .models import Payment, PaymentRun, PaymentStatus, Recipient, RunStatus
from .payment_runs import FEN, RUN_LABELS, close_if_settled, mask_account, money

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
HEADER = ("序号", "户名", "证件号码", "开户行", "账号", "金额", "明细编号")
TOTAL_LABELS = ("合计", "total")
NO_ACCOUNT = "缺少银行账户信息"
EXPORTABLE = (RunStatus.CONFIRMED, RunStatus.EXPORTED, RunStatus.CLOSED)
MAX_PROBLEMS = 50
CHUNK = 1000

COLUMNS = {
    "line_id": ("line_id", "明细编号", "id"),
    "account": ("account", "账号", "account_number"),
    "amount": ("amount", "金额"),
    "result": ("result", "结果", "status"),
    "reason": ("reason", "原因", "失败原因"),
}
LINE_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RESULTS = {"paid": PaymentStatus.PAID, "成功": PaymentStatus.PAID, "failed": PaymentStatus.FAILED,
           "失败": PaymentStatus.FAILED}


# -- export -------------------------------------------------------------------------------------------------------
def _lock_run(session: Session, run: PaymentRun) -> PaymentRun:
    return session.scalars(select(PaymentRun).where(PaymentRun.id == run.id).with_for_update()
                           .execution_options(populate_existing=True)).one()


def prepare_export(session: Session, run: PaymentRun, *, now: datetime) -> PaymentRun:
    """Check the run may be exported; on its first export mark lines without an account failed and the run
    exported. Commits."""
    run = _lock_run(session, run)
    if run.status not in EXPORTABLE:
        raise Conflict(f"发放批次须先确认才能导出银行文件（当前：{RUN_LABELS[run.status.value]}）")
    if run.status == RunStatus.CONFIRMED:
        session.execute(update(Payment).where(
            Payment.run_id == run.id, Payment.status == PaymentStatus.PENDING,
            (Payment.account_number.is_(None)) | (Payment.account_number == ""))
            .values(status=PaymentStatus.FAILED, reason=NO_ACCOUNT, settled_at=now)
            .execution_options(synchronize_session=False))
        run.status = run.status.to(RunStatus.EXPORTED)
        run.exported_at = now
        close_if_settled(session, run, now)  # every line lacked an account: nothing goes to the bank
    session.commit()
    return run


@dataclass
class BankRow:
    number: int
    name: str
    id_number: str  # masked
    bank: str
    account: str
    amount: Decimal
    line_ids: str


def bank_rows(session: Session, run: PaymentRun):
    """The pending lines grouped by account, in line order (streamed: a million lines stay small in memory)."""
    query = (select(Payment.id, Payment.amount, Payment.account_number, Payment.bank_name, Recipient.head_name,
                    Recipient.head_id_number)
             .join(Recipient, Recipient.id == Payment.recipient_id)
             .where(Payment.run_id == run.id, Payment.status == PaymentStatus.PENDING)
             .order_by(Payment.account_number, Payment.id)
             .execution_options(yield_per=5000))
    current: BankRow | None = None
    number = 0
    for line_id, amount, account, bank, name, id_number in session.execute(query):
        if current is not None and current.account == account:
            current.amount += money(amount)
            current.line_ids += f" {line_id}"
            continue
        if current is not None:
            yield current
        number += 1
        current = BankRow(number, name, mask_id_number(id_number), bank or "", account, money(amount), str(line_id))
    if current is not None:
        yield current


def _file_rows(session: Session, run: PaymentRun):
    """The rows with amounts as Decimal; text cells as registered (each format protects them its own way)."""
    count, total = 0, Decimal("0.00")
    for row in bank_rows(session, run):
        count += 1
        total += row.amount
        yield [row.number, row.name, row.id_number, row.bank, row.account, row.amount, row.line_ids]
    yield ["合计", count, "", "", "", total, ""]


def csv_text(value: object) -> object:
    """A CSV cell Excel will not run as a formula: text starting like one gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _xlsx_cell(sheet, value: object) -> object:
    """Text as a string cell (openpyxl would store "=…" as a formula); numbers, Decimal included, as numbers."""
    if not isinstance(value, str) or not value:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def bank_file(session: Session, run: PaymentRun, fmt: str) -> tuple[bytes, str, str]:
    """(content, file name, MIME type) of the run's bank file."""
    name = f"发放_{run.program}_{run.month}_{run.id}"
    if fmt == "xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet("银行代发")
        bold = Font(bold=True)
        header = []
        for label in HEADER:
            cell = WriteOnlyCell(sheet, value=label)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in _file_rows(session, run):
            # Accounts stay text (Excel would turn a 19-digit account into 6.2E+18); amounts are exact numbers.
            sheet.append([_xlsx_cell(sheet, value) for value in row])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue(), f"{name}.xlsx", XLSX_MIMETYPE
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows([csv_text(value) for value in row] for row in _file_rows(session, run))
    # With a BOM so Excel opens the Chinese text correctly.
    return text.getvalue().encode("utf-8-sig"), f"{name}.csv", CSV_MIMETYPE


# -- results ------------------------------------------------------------------------------------------------------
class ResultFileError(InvalidInput):
    """A result file with problems: `fields` maps "第 N 行" to what is wrong there."""


@dataclass
class ResultRow:
    line_no: int
    line_id: int | None
    account: str | None
    amount: Decimal
    status: PaymentStatus
    reason: str | None


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ResultFileError("结果文件编码无法识别", {"file": ["请使用 UTF-8 或 GB18030 编码的 CSV 文件"]})


def _where(line_no: int) -> str:
    return f"第 {line_no} 行"


def _records(content: bytes):
    """(line number, cells) of each record; a record the CSV reader refuses is a ResultFileError naming its line."""
    # newline="": the csv module splits the lines itself, so CRLF, LF and a lone CR all end a record (StringIO's
    # own newline handling leaves a lone CR inside the text, which the reader refuses).
    reader = csv.reader(io.StringIO(_decode(content), newline=""))
    line_no = 0
    while True:
        line_no += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = ("字段过长（超过 131072 个字符）" if "field larger than field limit" in str(exc)
                       else "无法按 CSV 格式读取")
            raise ResultFileError("银行结果文件有 1 行有误，未导入任何记录", {_where(line_no): [problem]}) from None
        yield line_no, values


def _decimal(text: str) -> Decimal:
    """A finite amount with at most two decimal places; InvalidOperation otherwise (NaN, sNaN, Infinity…)."""
    amount = Decimal(text)
    if not amount.is_finite() or amount != amount.quantize(FEN):
        raise InvalidOperation
    return amount


def parse_results(content: bytes) -> tuple[list[ResultRow], dict[str, list[str]], tuple[int, int, Decimal] | None]:
    """(rows, problems, control total (line number, count, sum) or None)."""
    reader = _records(content)
    problems: dict[str, list[str]] = defaultdict(list)
    _first, header = next(reader, (1, None))
    if not header:
        raise ResultFileError("结果文件为空", {"file": ["结果文件为空"]})
    names = [cell.strip().lower() for cell in header]
    index = {key: next((names.index(alias.lower()) for alias in aliases if alias.lower() in names), None)
             for key, aliases in COLUMNS.items()}
    if index["amount"] is None or index["result"] is None or (index["line_id"] is None and index["account"] is None):
        raise ResultFileError("结果文件缺少必需的列", {_where(1): [
            "表头须包含 明细编号(line_id) 或 账号(account)，以及 金额(amount)、结果(result)"]})
    rows: list[ResultRow] = []
    control = None

    def cell(values: list[str], key: str) -> str:
        position = index[key]
        return values[position].strip() if position is not None and position < len(values) else ""

    for line_no, values in reader:
        if not any(v.strip() for v in values):
            continue
        if values[0].strip().lower() in TOTAL_LABELS:
            try:
                count_text = values[1].strip()
                if not LINE_ID.fullmatch(count_text):
                    raise ValueError(count_text)
                control = (line_no, int(count_text), _decimal(values[2].strip()))
            except (IndexError, ValueError, InvalidOperation):
                problems[_where(line_no)].append("合计行格式应为：合计,笔数,金额")
            continue
        here = problems[_where(line_no)]
        line_text, account = cell(values, "line_id"), cell(values, "account")
        line_id = None
        if line_text:
            if not LINE_ID.fullmatch(line_text):
                here.append(f"明细编号“{line_text[:20]}”不是数字")
            else:
                line_id = int(line_text)
        elif not account:
            here.append("缺少明细编号或账号")
        try:
            amount = _decimal(cell(values, "amount"))
        except InvalidOperation:
            here.append(f"金额“{cell(values, 'amount')[:20]}”不是两位小数以内的数字")
            amount = Decimal("0")
        result = RESULTS.get(cell(values, "result").lower())
        if result is None:
            here.append("结果须为 paid/成功 或 failed/失败")
        reason = cell(values, "reason")[:500] or None
        if not here and result is not None:
            rows.append(ResultRow(line_no, line_id, None if line_id else account, amount, result, reason))
        if len(problems) > MAX_PROBLEMS:
            break
    return rows, {k: v for k, v in problems.items() if v}, control


def _pending_of(session: Session, run: PaymentRun, rows: list[ResultRow]) -> tuple[dict, dict]:
    """The run's lines the file names: by id and (pending ones) by account."""
    by_id: dict[int, tuple] = {}
    by_account: dict[str, list[tuple]] = defaultdict(list)
    ids = sorted({r.line_id for r in rows if r.line_id is not None})
    accounts = sorted({r.account for r in rows if r.account})
    columns = (Payment.id, Payment.amount, Payment.status, Payment.account_number)
    for start in range(0, len(ids), CHUNK):
        for line in session.execute(select(*columns).where(Payment.run_id == run.id,
                                                           Payment.id.in_(ids[start:start + CHUNK]))):
            by_id[line.id] = tuple(line)
    for start in range(0, len(accounts), CHUNK):
        for line in session.execute(select(*columns).where(
                Payment.run_id == run.id, Payment.account_number.in_(accounts[start:start + CHUNK]))):
            by_account[line.account_number].append(tuple(line))
    return by_id, by_account


def import_results(session: Session, run: PaymentRun, content: bytes, *, now: datetime) -> dict:
    """Check the whole file, then settle its lines in one transaction; returns the counts. Commits."""
    run = _lock_run(session, run)
    if run.status != RunStatus.EXPORTED:
        raise Conflict(f"只有已导出银行文件、尚未结束的发放批次才能导入结果（当前：{RUN_LABELS[run.status.value]}）")
    try:
        rows, problems, control = parse_results(content)
    except ResultFileError:
        session.rollback()  # release the run's lock: nothing was written
        raise
    by_id, by_account = _pending_of(session, run, rows)
    settle: dict[int, tuple[PaymentStatus, str | None]] = {}
    named_at: dict[int, int] = {}
    for row in rows:
        here = problems.setdefault(_where(row.line_no), [])
        if row.line_id is not None:
            line = by_id.get(row.line_id)
            if line is None:
                here.append(f"明细编号 {row.line_id} 不在本批发放中")
                continue
            lines = [line]
        else:
            lines = by_account.get(row.account or "", [])
            if not lines:
                here.append(f"账号 {mask_account(row.account)} 不在本批发放中")
                continue
            lines = [line for line in lines if line[2] == PaymentStatus.PENDING] or lines
        settled = [line for line in lines if line[2] != PaymentStatus.PENDING]
        if settled:
            here.append(f"明细编号 {settled[0][0]} 已处理过（{settled[0][2].value}），不能重复导入")
            continue
        twice = [named_at[line[0]] for line in lines if line[0] in named_at]
        if twice:
            here.append(f"与第 {twice[0]} 行重复")
            continue
        expected = sum((money(line[1]) for line in lines), Decimal("0.00"))
        if row.amount != expected:
            here.append(f"金额 {row.amount} 与应发金额 {expected} 不符")
            continue
        for line in lines:
            named_at[line[0]] = row.line_no
            settle[line[0]] = (row.status, row.reason or ("银行未说明原因" if row.status == PaymentStatus.FAILED
                                                          else None))
    if control is not None:
        line_no, count, total = control
        actual = sum((r.amount for r in rows), Decimal("0.00"))
        if count != len(rows) or total != actual:
            problems.setdefault(_where(line_no), []).append(
                f"合计行（{count} 笔，{total} 元）与明细（{len(rows)} 笔，{actual} 元）不符")
    problems = {k: v for k, v in problems.items() if v}
    if problems:
        session.rollback()
        raise ResultFileError(f"银行结果文件有 {len(problems)} 行有误，未导入任何记录", problems)
    if not rows:
        session.rollback()
        raise ResultFileError("结果文件没有任何明细", {"file": ["结果文件没有任何明细"]})
    paid = [line_id for line_id, (status, _) in settle.items() if status == PaymentStatus.PAID]
    for start in range(0, len(paid), CHUNK):
        session.execute(update(Payment).where(Payment.id.in_(paid[start:start + CHUNK]),
                                              Payment.status == PaymentStatus.PENDING)
                        .values(status=PaymentStatus.PAID, settled_at=now)
                        .execution_options(synchronize_session=False))
    failed = [{"line_id": line_id, "reason": reason} for line_id, (status, reason) in settle.items()
              if status == PaymentStatus.FAILED]
    for item in failed:
        session.execute(update(Payment).where(Payment.id == item["line_id"], Payment.status == PaymentStatus.PENDING)
                        .values(status=PaymentStatus.FAILED, reason=item["reason"], settled_at=now)
                        .execution_options(synchronize_session=False))
    closed = close_if_settled(session, run, now)
    session.commit()
    pending = session.scalar(select(func.count()).select_from(Payment).where(
        Payment.run_id == run.id, Payment.status == PaymentStatus.PENDING))
    return {"paid": len(paid), "failed": len(failed), "pending": int(pending or 0), "closed": closed,
            "status": run.status.value}

"""The monthly payment run (月度发放): create or resume, compute its lines set-based, totals, confirm, read.

A run belongs to (program, district, month) — UNIQUE, so creating it twice, or from two places at once, gives one
run. Computing writes one `payments` line per payable recipient with `INSERT … SELECT` over a range of recipient ids
at a time (one batch, one commit): the database does the per-row work, Python only moves the range on. Each batch
first locks the run row (PostgreSQL) and starts after the highest recipient that already has its line (batches
commit in id order), with UNIQUE (run_id, recipient_id, for_month) behind it, so a run killed half way (status still
`computing`) loses at most its open batch and the next create (or "继续计算") finishes it with no line twice and none
missing.

Who is paid for month M: `since_month <= M`, `end_month` empty or after M (a stop or the end of a gradual exit
sets it), not suspended (nor stopped without an end month), and an amount in force for M above zero. The amount in
force is the `new_amount` of the recipient's newest change with `effective_month <= M` (workflows.register.ledger).
Each amount is split into the district's and the township's share by the `district_share` of the local standard in
force for the run's district, program, the recipient's area (urban/rural; a rural household follows the urban
standard while no rural one is in force, as its amount does — standards.standard_in_force) and M (0.5 without one);
the district share is rounded half-up to the fen and the township gets the rest, so the two always add up to the amount.

Failed lines that finance decided to carry (status `carried`, see `handle_failure`) become lines of the next run
of the same program and district computed after that decision — for their original month, `carried_from_id`
pointing back — as long as the recipient is payable in the new run's month; otherwise they wait for a later run.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from engine.clock import SHANGHAI
from engine.errors import Conflict, InvalidInput, NotFound

from ..idcard import mask_name
from ..programs import PROGRAMS
from .models import Payment, PaymentRun, PaymentStatus, Recipient, RecipientChange, RecipientStatus, RunStatus
from .months import month_of, next_month, parse_month
from .run_deadlines import WorkingDays, due_date_of
from .standards import standard_in_force

# Programs paid monthly from the register (临时救助 is paid once, with its case).
PAYABLE_PROGRAMS = ("dibao", "tekun")
BATCH_SIZE = 20_000
MAX_COLLISIONS = 20
# Above this many lines a web request leaves the computing to a background thread (compute_or_start).
BACKGROUND_ABOVE = 50_000
DEFAULT_DISTRICT_SHARE = Decimal("0.5")
FEN = Decimal("0.01")
FAILURE_ACTIONS = ("carry", "stop")
RUN_LABELS = {"computing": "计算中", "draft": "待确认", "confirmed": "已确认", "exported": "已导出银行文件",
              "closed": "已结束"}
LINE_LABELS = {"pending": "待发放", "paid": "已发放", "failed": "发放失败", "carried": "转下期发放",
               "stopped": "已停发"}

log = logging.getLogger(__name__)

# (lines written so far, lines expected) after each batch: the CLI prints it, tests use it to simulate a kill.
Progress = Callable[[int, int], None]


def money(value: Any) -> Decimal:
    """A database sum (Decimal, float on SQLite, or None) as yuan with two places."""
    return Decimal(str(value if value is not None else 0)).quantize(FEN, rounding=ROUND_HALF_UP)


# -- checks ---------------------------------------------------------------------------------------------------
def check_program(program: str | None) -> str:
    if program not in PAYABLE_PROGRAMS:
        names = "、".join(f"{key}（{PROGRAMS[key].name}）" for key in PAYABLE_PROGRAMS)
        raise InvalidInput("该项目不按月发放", {"program": [f"须为 {names} 之一"]})
    return program


def check_month(month: str | None, now: datetime) -> str:
    """A "YYYY-MM" no later than next month (the run of next month may be prepared ahead, not further)."""
    try:
        parse_month(month or "")
    except ValueError as exc:
        raise InvalidInput("月份有误", {"month": [str(exc)]}) from exc
    latest = next_month(month_of(now.astimezone(SHANGHAI).date()))
    if month > latest:  # type: ignore[operator]
        raise InvalidInput("月份有误", {"month": [f"不能为下月（{latest}）之后的月份"]})
    return month  # type: ignore[return-value]


# -- who is paid, how much ----------------------------------------------------------------------------------------
def payable(month: str):
    """The SQL condition on `recipients` for "paid in month M" (see the module doc)."""
    return and_(
        Recipient.since_month <= month,
        Recipient.status != RecipientStatus.SUSPENDED,
        or_(Recipient.end_month > month,
            and_(Recipient.end_month.is_(None), Recipient.status != RecipientStatus.STOPPED)),
    )


def amount_in_force(month: str):
    """Correlated subquery: the recipient's amount in force for `month`."""
    change = aliased(RecipientChange)
    return (select(change.new_amount)
            .where(change.recipient_id == Recipient.id, change.effective_month <= month,
                   change.new_amount.is_not(None))
            .order_by(change.effective_month.desc(), change.id.desc())
            .limit(1).correlate(Recipient).scalar_subquery())


def district_share_of(session: Session, district: str, program: str, area: str, month: str) -> Decimal:
    """The district's share of an amount of `area` in `month`: that of the standard in force — the one the amount
    was computed under, so a rural household in a district with only an urban standard uses the urban one."""
    standard = standard_in_force(session, district, program, area, month)
    return Decimal(standard.district_share) if standard is not None else DEFAULT_DISTRICT_SHARE


def _thousandths(share: Decimal) -> int:
    return int((share * 1000).to_integral_value(rounding=ROUND_HALF_UP))


def _scope(run: PaymentRun):
    return and_(Recipient.program == run.program, Recipient.district == run.district)


# -- create and compute -------------------------------------------------------------------------------------------
def find_run(session: Session, program: str, district: str, month: str) -> PaymentRun | None:
    return session.scalars(select(PaymentRun).where(
        PaymentRun.program == program, PaymentRun.district == district, PaymentRun.month == month)).first()


def create_run(session: Session, *, program: str, district: str, month: str, actor: str, now: datetime,
               calendar: WorkingDays | None, batch_size: int = BATCH_SIZE,
               on_batch: Progress | None = None, compute_now: bool = True) -> tuple[PaymentRun, bool]:
    """The run of (program, district, month), created and computed, or the existing one (finished computing if a
    previous attempt was killed). Returns (run, created). Commits. `compute_now=False` leaves a computing run for
    the caller to `compute` (the page does it in the background to show the progress)."""
    check_program(program)
    check_month(month, now)
    run = find_run(session, program, district, month)
    created = False
    if run is None:
        run = PaymentRun(program=program, district=district, month=month, status=RunStatus.COMPUTING,
                         due_date=due_date_of(month, calendar), households=0, total=Decimal("0"), by_street=[],
                         by_funding={}, created_by=actor, created_at=now)
        session.add(run)
        try:
            session.commit()
            created = True
        except IntegrityError:
            # Created at the same moment elsewhere: that one is the run.
            session.rollback()
            run = find_run(session, program, district, month)
            if run is None:  # pragma: no cover - the unique row exists or the insert would have succeeded
                raise
    elif run.status not in (RunStatus.COMPUTING, RunStatus.DRAFT):
        # Asking again for a draft answers the same run; a month finance has confirmed is settled, and asking to
        # create it again is a mistake worth saying so (the "a run for a month already confirmed").
        raise Conflict(f"{month} 的发放已确认（{RUN_LABELS[run.status.value]}），不能重新生成")
    if run.status == RunStatus.COMPUTING and compute_now:
        compute(session, run.id, batch_size=batch_size, on_batch=on_batch)
        session.refresh(run)
    return run, created


def compute_or_start(session: Session, run: PaymentRun, *, background_above: int = BACKGROUND_ABOVE) -> bool:
    """Finish computing `run` now, or — above `background_above` lines, more than a web request should wait for —
    in a background thread with its own session while the caller answers at once (the page and GET show the
    progress). Returns whether it went to the background. Should that thread die with its process, the run stays
    `computing` and the next create (or 继续计算) finishes it."""
    if run.status != RunStatus.COMPUTING:
        return False
    if expected_lines(session, run) <= background_above:
        compute(session, run.id)
        session.refresh(run)
        return False
    session.commit()
    bind = session.get_bind()
    run_id = run.id

    def work() -> None:
        with Session(bind) as own:
            try:
                compute(own, run_id)
            except Exception:
                log.exception("payment run %s: computing failed; creating it again finishes it", run_id)

    threading.Thread(target=work, name=f"payment-run-{run_id}", daemon=True).start()
    return True


def expected_lines(session: Session, run: PaymentRun) -> int:
    """How many lines the run will have (recipients payable in its month plus carried failures): for progress."""
    regular = session.scalar(select(func.count()).select_from(Recipient).where(_scope(run), payable(run.month)))
    return int(regular or 0) + int(session.scalar(select(func.count()).select_from(_carry_source(run).subquery()))
                                   or 0)


def written_lines(session: Session, run_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Payment).where(Payment.run_id == run_id)) or 0)


def progress(session: Session, run: PaymentRun) -> dict:
    written = written_lines(session, run.id)
    if run.status != RunStatus.COMPUTING:
        return {"written": written, "expected": written}
    return {"written": written, "expected": max(written, expected_lines(session, run))}


def _lock(session: Session, run_id: int) -> PaymentRun | None:
    """The run row, locked for this transaction (PostgreSQL), if it is still computing."""
    return session.scalars(
        select(PaymentRun).where(PaymentRun.id == run_id, PaymentRun.status == RunStatus.COMPUTING)
        .with_for_update().execution_options(populate_existing=True)).first()


def compute(session: Session, run_id: int, *, batch_size: int = BATCH_SIZE, on_batch: Progress | None = None) -> None:
    """Write the missing lines of a computing run batch by batch, then its totals; the run becomes a draft."""
    run = session.get(PaymentRun, run_id)
    if run is None or run.status != RunStatus.COMPUTING:
        return
    expected = expected_lines(session, run)
    written = written_lines(session, run_id)
    after = _cursor(session, run_id)
    session.commit()
    collisions = 0
    while True:
        run = _lock(session, run_id)
        if run is None:  # finished by someone else meanwhile
            session.commit()
            return
        try:
            batch = _write_batch(session, run, after, batch_size)
            if batch is None:
                break
            after, inserted = batch
            session.commit()
        except IntegrityError:
            # Another worker wrote this range first (SQLite has no row lock): start again from what is there.
            session.rollback()
            collisions += 1
            if collisions > MAX_COLLISIONS:
                raise
            after, written = _cursor(session, run_id), written_lines(session, run_id)
            continue
        written += inserted
        if on_batch is not None:
            on_batch(written, expected)
    _write_carried(session, run)
    _finish(session, run)
    session.commit()
    if on_batch is not None:
        on_batch(written_lines(session, run_id), expected)


def _cursor(session: Session, run_id: int) -> int:
    """The highest recipient id with a regular line of the run. Batches commit in id order, so every recipient up
    to it is done: a resumed run starts after it."""
    return session.scalar(select(func.max(Payment.recipient_id)).where(
        Payment.run_id == run_id, Payment.carried_from_id.is_(None))) or 0


def _write_batch(session: Session, run: PaymentRun, after: int, batch_size: int) -> tuple[int, int] | None:
    """Insert the lines of the next `batch_size` recipient ids after `after`: (the range's last id, lines
    written), or None when no recipients are left."""
    # The ranges never overlap, so no NOT EXISTS per row is needed (on PostgreSQL its anti-join over a payments
    # table that grows within the run, planned with statistics from before, can turn quadratic). The run's row lock
    # serialises workers; UNIQUE (run_id, recipient_id, for_month) stays the last guard.
    ids = (select(Recipient.id).where(_scope(run), Recipient.id > after).order_by(Recipient.id)
           .limit(batch_size).subquery())
    upper = session.scalar(select(func.max(ids.c.id)))
    if upper is None:
        return None
    month = run.month
    if session.get_bind().dialect.name == "postgresql":
        # Compiling this statement to machine code (JIT) costs more than it saves on a batch; this transaction only.
        session.execute(text("SET LOCAL jit = off"))
    shares = {area: _thousandths(district_share_of(session, run.district, run.program, area, month))
              for area in ("urban", "rural")}
    rows = (select(Recipient.id.label("recipient_id"), Recipient.street, Recipient.area, Recipient.bank_name,
                   Recipient.account_number, amount_in_force(month).label("amount"))
            .where(_scope(run), Recipient.id > after, Recipient.id <= upper, payable(month))
            # OFFSET 0 keeps PostgreSQL from inlining the subquery, which would look the amount up once for every
            # place the outer query uses it (five) instead of once per recipient.
            .offset(0).subquery())
    # Shares in whole fen with integer arithmetic: exact and identical on PostgreSQL and SQLite.
    fen = cast(func.round(rows.c.amount * 100), BigInteger)
    thousandths = case((rows.c.area == "rural", shares["rural"]), else_=shares["urban"])
    district_fen = (fen * thousandths + 500) // 1000
    district = district_fen * literal_column("0.01")
    select_lines = (select(literal(run.id), rows.c.recipient_id, literal(month), rows.c.street, rows.c.amount,
                           district, rows.c.amount - district, literal(PaymentStatus.PENDING.value),
                           rows.c.bank_name, rows.c.account_number)
                    .where(rows.c.amount > 0))
    # preserve_rowcount: the driver's count of inserted rows (INSERT … SELECT does not keep it otherwise).
    result = session.connection().execute(insert(Payment).from_select(
        ["run_id", "recipient_id", "for_month", "street", "amount", "district_share", "township_share", "status",
         "bank_name", "account_number"], select_lines).execution_options(preserve_rowcount=True))
    return upper, max(result.rowcount, 0)


def _carry_source(run: PaymentRun):
    """Carried failures of earlier months' runs of this program and district, not yet paid on, whose recipient is
    payable in this run's month."""
    old = aliased(Payment)
    later = aliased(Payment)
    return (select(old.id, old.recipient_id, old.for_month, Recipient.street, old.amount, old.district_share,
                   old.township_share, Recipient.bank_name, Recipient.account_number)
            .join(PaymentRun, PaymentRun.id == old.run_id)
            .join(Recipient, Recipient.id == old.recipient_id)
            .where(PaymentRun.program == run.program, PaymentRun.district == run.district,
                   PaymentRun.month < run.month, old.status == PaymentStatus.CARRIED, payable(run.month),
                   ~exists().where(later.carried_from_id == old.id),
                   ~exists().where(later.run_id == run.id, later.recipient_id == old.recipient_id,
                                   later.for_month == old.for_month)))


def _write_carried(session: Session, run: PaymentRun) -> None:
    source = _carry_source(run).subquery()
    session.execute(insert(Payment).from_select(
        ["run_id", "recipient_id", "for_month", "street", "amount", "district_share", "township_share", "status",
         "carried_from_id", "bank_name", "account_number"],
        select(literal(run.id), source.c.recipient_id, source.c.for_month, source.c.street, source.c.amount,
               source.c.district_share, source.c.township_share, literal(PaymentStatus.PENDING.value),
               source.c.id, source.c.bank_name, source.c.account_number)))


def _finish(session: Session, run: PaymentRun) -> None:
    """Totals by street and by funding source; the run becomes a draft."""
    per_street = session.execute(
        select(Payment.street, func.count(func.distinct(Payment.recipient_id)), func.sum(Payment.amount))
        .where(Payment.run_id == run.id).group_by(Payment.street).order_by(Payment.street)).all()
    households, total, district, township = session.execute(
        select(func.count(func.distinct(Payment.recipient_id)), func.sum(Payment.amount),
               func.sum(Payment.district_share), func.sum(Payment.township_share))
        .where(Payment.run_id == run.id)).one()
    run.households = int(households or 0)
    run.total = money(total)
    run.by_street = [{"street": street, "households": int(count), "total": str(money(amount))}
                     for street, count, amount in per_street]
    run.by_funding = {"district": str(money(district)), "township": str(money(township))}
    run.status = run.status.to(RunStatus.DRAFT)


# -- reading ------------------------------------------------------------------------------------------------------
def get_run(session: Session, run_id: int, district: str | None) -> PaymentRun:
    """A run of the reader's district (`district` None: any — admins)."""
    run = session.get(PaymentRun, run_id)
    if run is None or (district is not None and run.district != district):
        raise NotFound("发放批次不存在")
    return run


def list_runs(session: Session, *, district: str | None, program: str | None = None, status: str | None = None,
              limit: int = 50, offset: int = 0) -> tuple[int, list[PaymentRun]]:
    conditions = []
    if district is not None:
        conditions.append(PaymentRun.district == district)
    if program:
        conditions.append(PaymentRun.program == program)
    if status:
        conditions.append(PaymentRun.status == RunStatus(status))
    total = session.scalar(select(func.count()).select_from(PaymentRun).where(*conditions)) or 0
    rows = session.scalars(select(PaymentRun).where(*conditions)
                           .order_by(PaymentRun.month.desc(), PaymentRun.program, PaymentRun.id.desc())
                           .limit(limit).offset(offset)).all()
    return int(total), list(rows)


def line_counts(session: Session, run_id: int) -> dict[str, int]:
    rows = session.execute(select(Payment.status, func.count()).where(Payment.run_id == run_id)
                           .group_by(Payment.status)).all()
    counts = {status.value: 0 for status in PaymentStatus}
    counts.update({PaymentStatus(status).value: int(n) for status, n in rows})
    return counts


@dataclass
class LineFilter:
    status: str | None = None
    street: str | None = None


def run_lines(session: Session, run: PaymentRun, flt: LineFilter, *, limit: int | None = 50,
              offset: int = 0) -> tuple[int, list[dict]]:
    conditions = [Payment.run_id == run.id]
    if flt.status:
        conditions.append(Payment.status == PaymentStatus(flt.status))
    if flt.street:
        conditions.append(Payment.street == flt.street)
    total = session.scalar(select(func.count()).select_from(Payment).where(*conditions)) or 0
    query = (select(Payment, Recipient.head_name, Recipient.community).join(Recipient, Recipient.id == Payment.recipient_id)
             .where(*conditions).order_by(Payment.id).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return int(total), [line_dict(line, head_name, community) for line, head_name, community in session.execute(query)]


def mask_account(account: str | None) -> str | None:
    """Only the last four digits of a bank account on pages and in errors."""
    if not account:
        return None
    return f"****{account[-4:]}" if len(account) > 4 else "****"


def line_dict(line: Payment, head_name: str | None = None, community: str | None = None) -> dict:
    return {
        "id": line.id, "recipient_id": line.recipient_id, "for_month": line.for_month, "street": line.street,
        "community": community, "head_name": mask_name(head_name) if head_name else None,
        "amount": str(money(line.amount)), "district_share": str(money(line.district_share)),
        "township_share": str(money(line.township_share)), "status": line.status.value, "reason": line.reason,
        "carried_from_id": line.carried_from_id, "bank_name": line.bank_name,
        "account": mask_account(line.account_number),
        "settled_at": line.settled_at.isoformat() if line.settled_at else None,
    }


# -- acting -------------------------------------------------------------------------------------------------------
def confirm(session: Session, run: PaymentRun, *, actor: str, now: datetime) -> PaymentRun:
    """Finance confirms a draft run: from now on its lines are fixed and the bank file can be exported."""
    locked = session.scalars(select(PaymentRun).where(PaymentRun.id == run.id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    if locked.status != RunStatus.DRAFT:
        raise Conflict(f"只有待确认的发放批次才能确认（当前：{RUN_LABELS[locked.status.value]}）")
    locked.status = locked.status.to(RunStatus.CONFIRMED)
    locked.confirmed_by, locked.confirmed_at = actor, now
    session.commit()
    return locked


def handle_failure(session: Session, run: PaymentRun, payment_id: int, *, action: str, reason: str | None,
                   now: datetime) -> Payment:
    """A failed line: `carry` (paid again by the next run, for its original month) or `stop` (not paid; the
    reason is required)."""
    if action not in FAILURE_ACTIONS:
        raise InvalidInput("处理方式有误", {"action": ["须为 carry（转下期发放）或 stop（停发）"]})
    reason = (reason or "").strip()
    if action == "stop" and not reason:
        raise InvalidInput("停发须填写原因", {"reason": ["停发须填写原因"]})
    if len(reason) > 500:
        raise InvalidInput("原因过长", {"reason": ["不能超过 500 字"]})
    line = session.scalars(select(Payment).where(Payment.id == payment_id, Payment.run_id == run.id)
                           .with_for_update().execution_options(populate_existing=True)).first()
    if line is None:
        raise NotFound("发放明细不存在")
    if line.status != PaymentStatus.FAILED:
        raise Conflict(f"只有发放失败的明细才能处理（当前：{LINE_LABELS[line.status.value]}）")
    target = PaymentStatus.CARRIED if action == "carry" else PaymentStatus.STOPPED
    line.status = line.status.to(target)
    if reason:
        line.reason = f"{line.reason}；{reason}" if line.reason else reason
    line.settled_at = now
    session.commit()
    return line


def run_dict(session: Session, run: PaymentRun, *, with_progress: bool = True) -> dict:
    body = {
        "id": run.id, "program": run.program, "district": run.district, "month": run.month,
        "status": run.status.value, "due_date": run.due_date.isoformat(), "households": run.households,
        "total": str(money(run.total)), "by_street": run.by_street or [], "by_funding": run.by_funding or {},
        "created_by": run.created_by, "created_at": _iso(run.created_at),
        "confirmed_by": run.confirmed_by, "confirmed_at": _iso(run.confirmed_at),
        "exported_at": _iso(run.exported_at), "closed_at": _iso(run.closed_at),
        "reminded_at": _iso(run.reminded_at), "overdue_at": _iso(run.overdue_at),
        "escalated_at": _iso(run.escalated_at),
    }
    if with_progress:
        body["lines"] = line_counts(session, run.id)
        body["progress"] = progress(session, run)
    return body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def close_if_settled(session: Session, run: PaymentRun, now: datetime) -> bool:
    """An exported run whose lines are all settled (none pending) closes."""
    pending = session.scalar(select(func.count()).select_from(Payment).where(
        Payment.run_id == run.id, Payment.status == PaymentStatus.PENDING))
    if pending or run.status != RunStatus.EXPORTED:
        return False
    # The caller holds the run's row lock (bank_files.import_results), so a plain transition is safe.
    run.status = run.status.to(RunStatus.CLOSED)
    run.closed_at = now
    return True

"""Local standards (保障标准) per district × program × urban/rural from a month on, and what a new one changes.

A new standard is previewed first (every affected recipient with old and new amount, and the totals; nothing is
written), then applied: the standard row and one audited change per affected recipient (kind "standard", from the
effective month) commit together, or nothing does. Recipients keep what is theirs through a standard change: the
members cut for refused labour stay cut, and an approver's adjustment stays the same number of yuan.

The amount in force for month M is the newest change with effective_month <= M (then the highest id), so a change
recorded later for a later month would hide a standard written earlier. Hence the rule every writer keeps: **the
newest row of every month reflects the standard in force in that month**.
- Applying a standard writes its change at its month (or the recipient's first month) AND at every later month
  that already has an amount-bearing change (a review or labour cut recorded before, computed with the old
  standard), up to the next standard's month (that one's own rows stand) and not past the recipient's end month.
  One audited change per recipient per such month.
- A change recorded for a month E (review, labour cut or restore, enrolment) is computed under the standard in
  force in E, then `catch_up` re-applies, by the rule above, every standard that starts after E.
Each month is computed from what the register held in that month: a change that alters the figures a standard
change uses (a review's income, a labour cut) keeps the earlier ones in details["before"], so a standard month
before such a change is computed from those; otherwise from the register as it is now.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import Forbidden, InvalidInput

from .. import tekun
from ..idcard import mask_name
from ..models import Jurisdiction, LocalStandard, User
from ..programs import PROGRAMS
from ..subsidy import DEFAULT_TOPUP_RATES, to_fen
from .amounts import household_amount, money_text, with_adjustment
from .ledger import record_change
from .models import Recipient, RecipientChange, RecipientStatus
from .months import first_day, month_of, parse_month

AREAS = {"urban": "城市", "rural": "农村"}
APPLY_ROLES = frozenset({"district_approver", "admin"})
PREVIEW_ROLES = APPLY_ROLES | {"finance_officer", "supervisor"}
# Recipients a standard change recomputes: everyone still on the register (a suspended household resumes at the
# new amount; an exiting one is paid the new amount for its remaining months).
RECOMPUTED = (RecipientStatus.ACTIVE, RecipientStatus.EXITING, RecipientStatus.SUSPENDED)
MAX_STANDARD = Decimal("100000")
PREVIEW_ROWS = 500
# The standard a program's amounts are computed from, where it is not the program's own: 特困 basic support is
# 1.3 × the 低保 standard (workflows/tekun.py), so a 特困 recipient's amount follows the 低保 standard, and a 低保
# standard change recomputes 特困 recipients too. The 特困 program's own standard row still sets the district's
# funding share of its payment runs (workflows/register/payment_runs.py) and changes no amount.
AMOUNT_STANDARD = {"tekun": "dibao"}


def amount_program(program: str) -> str:
    """The program whose standard `program`'s amounts are computed from (itself unless AMOUNT_STANDARD says)."""
    return AMOUNT_STANDARD.get(program, program)


def programs_following(program: str) -> tuple[str, ...]:
    """The recipient programs whose amounts a standard of `program` sets (none for 特困's own standard)."""
    return tuple(p for p in (program, *AMOUNT_STANDARD) if amount_program(p) == program)


def amount_standard(session: Session, district: str, program: str, area: str, month: str) -> LocalStandard | None:
    """The standard in force for `month` that `program`'s amounts are computed from (standard_in_force of
    amount_program(program))."""
    return standard_in_force(session, district, amount_program(program), area, month)


def standard_in_force(session: Session, district: str, program: str, area: str, month: str) -> LocalStandard | None:
    """The standard for `month` ("YYYY-MM"): the newest with effective_from on or before its first day, for the
    area; an area without any standard in force uses the urban one."""
    day = first_day(month)
    for wanted in dict.fromkeys((area or "urban", "urban")):
        row = session.scalars(
            select(LocalStandard)
            .where(LocalStandard.district == district, LocalStandard.program == program, LocalStandard.area == wanted,
                   LocalStandard.effective_from <= day)
            .order_by(LocalStandard.effective_from.desc(), LocalStandard.id.desc()).limit(1)
        ).first()
        if row is not None:
            return row
    return None


def list_standards(session: Session, user: User, program: str | None = None) -> list[LocalStandard]:
    """Standards of the user's district (all districts for an admin), newest first."""
    query = select(LocalStandard)
    if user.district:
        query = query.where(LocalStandard.district == user.district)
    if program:
        query = query.where(LocalStandard.program == program)
    return list(session.scalars(query.order_by(LocalStandard.district, LocalStandard.program, LocalStandard.area,
                                               LocalStandard.effective_from.desc())))


def standard_item(row: LocalStandard) -> dict:
    return {"id": row.id, "district": row.district, "program": row.program, "area": row.area,
            "amount": money_text(row.amount), "effective_month": month_of(row.effective_from),
            "topup_rates": row.topup_rates, "district_share": str(row.district_share),
            "created_by": row.created_by}


# -- the proposal: checked the same way for preview and apply ---------------------------------------------------


def _decimal(value, field: str, errors: dict, *, low: Decimal, high: Decimal, low_inclusive: bool) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        errors[field] = ["必须填写数字"]
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = ["必须是数字"]
        return None
    if not number.is_finite() or (number < low if low_inclusive else number <= low) or number > high:
        errors[field] = [f"必须{'不小于' if low_inclusive else '大于'} {low} 且不大于 {high}"]
        return None
    return number


def _proposal(session: Session, user: User, body: dict, now: datetime) -> LocalStandard:
    """A LocalStandard (not added to the session) from a request body, or InvalidInput naming every bad field."""
    if not isinstance(body, dict):
        raise InvalidInput("提交的数据有误", {"body": ["必须是对象"]})
    errors: dict[str, list[str]] = {}
    program = body.get("program")
    if program not in PROGRAMS:
        errors["program"] = [f"未知项目：{program}"]
    area = body.get("area") or "urban"
    if area not in AREAS:
        errors["area"] = ["只能是 urban（城市）或 rural（农村）"]
    district = body.get("district") or user.district
    if user.district and district != user.district:
        errors["district"] = ["只能调整本区的标准"]
    elif not district or session.scalars(select(Jurisdiction.id).where(
            Jurisdiction.level == "district", Jurisdiction.name == district)).first() is None:
        errors["district"] = [f"未知的区：{district}"]
    amount = _decimal(body.get("amount"), "amount", errors, low=Decimal(0), high=MAX_STANDARD, low_inclusive=False)
    if amount is not None and amount != to_fen(amount):
        errors["amount"] = ["最多两位小数"]
    raw_month = body.get("effective_month")
    month: str = raw_month if isinstance(raw_month, str) else ""
    current = month_of(now.astimezone(SHANGHAI).date())
    try:
        parse_month(month)
        if month < current:
            errors["effective_month"] = [f"不能早于本月（{current}）：已发放的月份不追溯调整"]
    except ValueError as exc:
        errors["effective_month"] = [str(exc)]
    share = body.get("district_share")
    share_value = None if share is None else _decimal(share, "district_share", errors, low=Decimal(0),
                                                       high=Decimal(1), low_inclusive=True)
    rates = body.get("topup_rates")
    if rates is not None:
        if not isinstance(rates, dict) or len(rates) > 20:
            errors["topup_rates"] = ["必须是“类别: 比例”的对象"]
        else:
            for key, rate in rates.items():
                if key not in DEFAULT_TOPUP_RATES:
                    errors["topup_rates"] = [f"未知的分类施保类别：{key}"]
                    break
                if _decimal(rate, "topup_rates", errors, low=Decimal(0), high=Decimal(1), low_inclusive=True) is None:
                    break
    if errors:
        raise InvalidInput("保障标准有误", errors)
    program, district = str(program), str(district)  # both checked above
    effective_from = first_day(month)
    if session.scalars(select(LocalStandard.id).where(
            LocalStandard.district == district, LocalStandard.program == program, LocalStandard.area == area,
            LocalStandard.effective_from == effective_from)).first() is not None:
        raise InvalidInput("该月份已有标准", {"effective_month": [f"{district} {month} 起已有{AREAS[area]}标准"]})
    # What the proposal leaves out it keeps from the standard in force before it.
    before = standard_in_force(session, district, program, area, month)
    kept = dict(before.topup_rates) if before is not None and before.topup_rates is not None \
        else dict(DEFAULT_TOPUP_RATES)
    return LocalStandard(
        district=district, program=program, area=area, amount=amount, effective_from=effective_from,
        # Named rates replace those categories only (a partial table must not drop the others' top-ups); decimal
        # strings, never floats, in the JSON.
        topup_rates={**kept, **{k: str(Decimal(str(v))) for k, v in rates.items()}} if rates is not None else kept,
        district_share=share_value if share_value is not None else (
            before.district_share if before is not None else Decimal("0.5")),
        created_by=user.username,
    )


def _has_standards(session: Session, district: str, program: str, area: str) -> bool:
    return session.scalars(select(LocalStandard.id).where(
        LocalStandard.district == district, LocalStandard.program == program, LocalStandard.area == area)
    ).first() is not None


def _areas_following(session: Session, district: str, program: str, area: str) -> set[str]:
    """The recipient areas a standard of `area` applies to: rural households follow the urban standard while
    their district has no rural one (standard_in_force falls back the same way)."""
    if area == "urban" and not _has_standards(session, district, program, "rural"):
        return {"urban", "rural"}
    return {area}


def _affected(session: Session, standard: LocalStandard, *, lock: bool) -> Iterable[Recipient]:
    areas = _areas_following(session, standard.district, standard.program, standard.area)
    query = (select(Recipient)
             .where(Recipient.district == standard.district,
                    Recipient.program.in_(programs_following(standard.program)),
                    Recipient.area.in_(areas), Recipient.status.in_(RECOMPUTED))
             .order_by(Recipient.id))
    if lock:
        query = query.with_for_update()
    month = month_of(standard.effective_from)
    for recipient in session.scalars(query):
        # An exit that ends before the new standard starts is not paid under it.
        if recipient.end_month is None or recipient.end_month > month:
            yield recipient


def basis_of(recipient: Recipient) -> dict:
    """What a standard change computes from, as the register has it now: income, cut members, adjustment. A change
    that alters them (a review, a labour cut) keeps the one from before it in its details["before"]."""
    breakdown = recipient.breakdown or {}
    return {"monthly_income": money_text(recipient.monthly_income),
            "cuts": sorted(str(c.get("member")) for c in breakdown.get("cuts") or []),
            "adjustment": breakdown.get("adjustment")}


def recomputed(recipient: Recipient, standard: LocalStandard, month: str | None = None, *,
               cuts: Collection[str] | None = None, keep_adjustment: bool = True,
               basis: dict | None = None) -> tuple[str, Decimal, dict]:
    """(effective month, new amount, breakdown) of `recipient` under `standard` for `month` (default: the standard's
    first month, not before the recipient's), from `basis` (default: the register now, `basis_of`); `cuts`
    overrides its cut members. The approver's adjustment (a number of yuan) is kept unless `keep_adjustment` is
    false (a review's new decision)."""
    if month is None:
        month = max(month_of(standard.effective_from), recipient.since_month)
    basis = basis or basis_of(recipient)
    if recipient.program == "tekun":
        # 特困: basic support and care allowance are shares of the standard by care level, not a household gap.
        amount, breakdown = tekun.register_amount(recipient.breakdown or {}, standard)
        return month, amount, breakdown
    amount, breakdown = household_amount(recipient.household, Decimal(basis["monthly_income"]), standard,
                                         first_day(month), cut_members=set(basis["cuts"]) if cuts is None else cuts)
    adjustment = basis.get("adjustment") if keep_adjustment else None
    if adjustment is not None:
        breakdown = with_adjustment(breakdown, max(Decimal(0), amount + Decimal(adjustment)))
        amount = Decimal(breakdown["total"])
    return month, amount, breakdown


def _next_start(session: Session, standard: LocalStandard) -> str | None:
    """The first month of the standard that follows `standard` in its area (None: none yet)."""
    after = session.scalars(select(LocalStandard.effective_from).where(
        LocalStandard.district == standard.district, LocalStandard.program == standard.program,
        LocalStandard.area == standard.area, LocalStandard.effective_from > standard.effective_from)
        .order_by(LocalStandard.effective_from).limit(1)).first()
    return month_of(after) if after is not None else None


def plan(session: Session, recipient: Recipient, standard: LocalStandard,
         until: str | None) -> list[tuple[str, Decimal, dict]]:
    """[(month, amount, breakdown)] of `standard`'s changes of `recipient` (see the module docstring): its first
    month, then every later month with an amount-bearing change, before `until` (the next standard's first month)
    and the end month. Each month is computed from the register as it stood then: the "before" of the first later
    change that altered it, else the register now."""
    start = max(month_of(standard.effective_from), recipient.since_month)
    query = (select(RecipientChange.effective_month, RecipientChange.new_amount, RecipientChange.details)
             .where(RecipientChange.recipient_id == recipient.id, RecipientChange.effective_month > start)
             .order_by(RecipientChange.effective_month, RecipientChange.id))
    later = session.execute(query).all()
    months = [start, *sorted({m for m, amount, _ in later if amount is not None and (until is None or m < until)
                              and (recipient.end_month is None or m < recipient.end_month)})]
    result = []
    for month in months:
        basis = next((d["before"] for m, _, d in later if m > month and isinstance(d, dict) and d.get("before")),
                     None)
        result.append(recomputed(recipient, standard, month, basis=basis))
    return result


def apply_to_recipient(session: Session, recipient: Recipient, standard: LocalStandard, *, actor: str,
                       now: datetime, until: str | None = None) -> list[tuple[str, Decimal]]:
    """Write `standard`'s changes of `recipient` (one per month of `plan`); [(month, amount)]. `until` is the
    first month of the standard after it, if any."""
    written = []
    for month, amount, breakdown in plan(session, recipient, standard, until):
        record_standard_change(session, recipient, standard, month, amount, breakdown, actor=actor, now=now)
        written.append((month, amount))
    # The register shows the newest month's figures (the rows above are written oldest first).
    return written


def catch_up(session: Session, recipient: Recipient, after_month: str, *, actor: str, now: datetime) -> None:
    """Re-apply to `recipient` every standard that starts after `after_month`, oldest first: called right after
    a change effective `after_month` was recorded, which the standards already applied would otherwise hide."""
    pending = later_standards(session, recipient.district, amount_program(recipient.program), recipient.area,
                              after_month)
    for i, standard in enumerate(pending):
        until = month_of(pending[i + 1].effective_from) if i + 1 < len(pending) else None
        if recipient.end_month is not None and max(month_of(standard.effective_from),
                                                   recipient.since_month) >= recipient.end_month:
            break  # not paid under it any more
        apply_to_recipient(session, recipient, standard, actor=actor, now=now, until=until)


def _row(recipient: Recipient, month: str, amount: Decimal) -> dict:
    return {"recipient_id": recipient.id, "case_id": recipient.case_id, "head_name": mask_name(recipient.head_name),
            "street": recipient.street, "community": recipient.community, "status": recipient.status.value,
            "members": recipient.household_size, "effective_month": month,
            "old_amount": money_text(recipient.monthly_amount), "new_amount": money_text(amount),
            "difference": money_text(amount - recipient.monthly_amount)}


def _summary(standard: LocalStandard, rows: list[dict]) -> dict:
    old = sum((Decimal(r["old_amount"]) for r in rows), Decimal(0))
    new = sum((Decimal(r["new_amount"]) for r in rows), Decimal(0))
    return {"standard": standard_item(standard), "households": len(rows), "old_total": money_text(old),
            "new_total": money_text(new), "difference": money_text(new - old), "rows": rows[:PREVIEW_ROWS],
            "rows_shown": min(len(rows), PREVIEW_ROWS)}


def preview_standard(session: Session, user: User, body: dict, now: datetime) -> dict:
    """What applying the proposed standard would change; writes nothing."""
    if user.role not in PREVIEW_ROLES:
        raise Forbidden("无权查看标准调整测算")
    standard = _proposal(session, user, body, now)
    until = _next_start(session, standard)
    rows = [_row(r, *plan(session, r, standard, until)[0][:2]) for r in _affected(session, standard, lock=False)]
    return _summary(standard, rows)


def apply_standard(session: Session, user: User, body: dict, now: datetime) -> dict:
    """Insert the standard and recompute every affected recipient (one audited change per recipient and month, see
    the module docstring), in one transaction that this function commits; the same answer as the preview, with the
    new standard's id (and each recipient's later months rewritten, if any, as `later_months`)."""
    if user.role not in APPLY_ROLES:
        raise Forbidden("只有区民政局审批人可以调整保障标准")
    standard = _proposal(session, user, body, now)
    try:
        session.add(standard)
        session.flush()
        rows = []
        until = _next_start(session, standard)
        for recipient in _affected(session, standard, lock=True):
            old = recipient.monthly_amount
            written = apply_to_recipient(session, recipient, standard, actor=user.username, now=now, until=until)
            row = _row(recipient, *written[0])
            row["old_amount"], row["difference"] = money_text(old), money_text(written[0][1] - old)
            if len(written) > 1:
                row["later_months"] = [{"effective_month": m, "new_amount": money_text(a)} for m, a in written[1:]]
            rows.append(row)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise InvalidInput("该月份已有标准", {"effective_month": ["同一月份的标准已被他人设置，请刷新"]}) from None
    except BaseException:
        session.rollback()
        raise
    return _summary(standard, rows)


def record_standard_change(session: Session, recipient: Recipient, standard: LocalStandard, month: str,
                           amount: Decimal, breakdown: dict, *, actor: str, now: datetime) -> None:
    record_change(session, recipient, kind="standard", actor=actor, now=now, effective_month=month,
                  reason=f"{AREAS.get(standard.area, standard.area)}保障标准自 {month_of(standard.effective_from)} "
                         f"起调整为 {money_text(standard.amount)} 元/月",
                  new_amount=amount, breakdown=breakdown,
                  details={"standard_id": standard.id, "standard": money_text(standard.amount)})


def later_standards(session: Session, district: str, program: str, area: str, after_month: str) -> list[LocalStandard]:
    """Standards of the area that start after `after_month` (already applied, still to come), oldest first."""
    if area != "urban" and not _has_standards(session, district, program, area):
        area = "urban"
    rows = session.scalars(
        select(LocalStandard)
        .where(LocalStandard.district == district, LocalStandard.program == program, LocalStandard.area == area,
               LocalStandard.effective_from > first_day(after_month))
        .order_by(LocalStandard.effective_from, LocalStandard.id)
    ).all()
    return list(rows)

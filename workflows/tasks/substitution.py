"""Naming a substitute (代理) for a period: the rules, and the list of one's arrangements.

A user names a colleague and a period of whole days (Shanghai calendar, both days included). The colleague must be
someone else, active, of the same role, the same jurisdiction and (for agency staff) the same agency — exactly who
could work the absent user's group tasks anyway. Periods of one user must not overlap. Every error comes back per
field (``user``, ``from``, ``to``). Setting or ending one queues an outbox event; it is not a step of any case, so
the case histories record it where it matters: "代 X 办理" on each task the substitute completes.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import InvalidInput
from engine.runtime import Engine

from .. import access
from ..models import User
from ..substitutes import Substitute

MAX_DAYS = 366


def _day(value, field: str, errors: dict[str, list[str]]) -> date | None:
    if value is None or value == "":
        errors.setdefault(field, []).append("请填写日期")
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.setdefault(field, []).append("日期格式应为 YYYY-MM-DD")
    return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


def arrangements(session: Session, user: User, now: datetime) -> list[Substitute]:
    """My substitutes, running or to come."""
    return list(session.scalars(
        select(Substitute).where(Substitute.username == user.username, Substitute.cancelled_at.is_(None),
                                 Substitute.ends_at > now).order_by(Substitute.starts_at)
    ))


def standing_in(session: Session, user: User, now: datetime) -> list[Substitute]:
    """Whom I stand in for, now or later."""
    return list(session.scalars(
        select(Substitute).where(Substitute.substitute == user.username, Substitute.cancelled_at.is_(None),
                                 Substitute.ends_at > now).order_by(Substitute.starts_at)
    ))


def set_substitute(session: Session, engine: Engine, user: User, payload) -> Substitute:
    payload = payload if isinstance(payload, dict) else {}
    errors: dict[str, list[str]] = {}
    now = engine.now()
    name = payload.get("user")
    name = name.strip() if isinstance(name, str) else ""
    target = session.scalars(select(User).where(User.username == name)).first() if name else None
    if not name:
        errors["user"] = ["请选择代理人"]
    elif name == user.username:
        errors["user"] = ["不能指定自己为代理人"]
    elif target is None or not target.active:
        errors["user"] = ["用户不存在或已停用"]
    elif target.role != user.role:
        errors["user"] = ["代理人须与您同一岗位"]
    elif not _same_desk(target, user):
        errors["user"] = ["代理人须与您同一辖区（和单位）"]
    first = _day(payload.get("from"), "from", errors)
    last = _day(payload.get("to"), "to", errors)
    if first and last:
        if last < first:
            errors.setdefault("to", []).append("结束日期不能早于开始日期")
        elif (last - first).days + 1 > MAX_DAYS:
            errors.setdefault("to", []).append(f"代理期间不能超过 {MAX_DAYS} 天")
        elif _start_of(last + timedelta(days=1)) <= now:
            errors.setdefault("to", []).append("结束日期已过")
    if not errors and first and last:
        starts, ends = _start_of(first), _start_of(last + timedelta(days=1))
        clash = session.scalars(select(Substitute).where(
            Substitute.username == user.username, Substitute.cancelled_at.is_(None),
            Substitute.starts_at < ends, Substitute.ends_at > starts).limit(1)).first()
        if clash is not None:
            errors["from"] = [f"与已有代理期间重叠（{_period(clash)}，代理人 {clash.substitute}）"]
    if errors:
        raise InvalidInput("代理设置有误", errors)
    assert first is not None and last is not None and target is not None
    row = Substitute(username=user.username, substitute=target.username, starts_at=_start_of(first),
                     ends_at=_start_of(last + timedelta(days=1)), created_at=now)
    session.add(row)
    engine.emit(session, "user.substitute_set", {"user": user.username, "substitute": target.username,
                                                 "from": first.isoformat(), "to": last.isoformat()}, now=now)
    session.commit()
    return row


def cancel_substitutes(session: Session, engine: Engine, user: User) -> int:
    """End my running and coming arrangements now; returns how many."""
    now = engine.now()
    rows = arrangements(session, user, now)
    for row in rows:
        row.cancelled_at = now
    if rows:
        engine.emit(session, "user.substitute_cancelled", {"user": user.username,
                                                           "substitutes": [r.substitute for r in rows]}, now=now)
    session.commit()
    return len(rows)


def candidates(session: Session, user: User) -> list[User]:
    """Who may stand in for `user`: active colleagues of the same role, jurisdiction and agency."""
    rows = session.scalars(select(User).where(User.active.is_(True), User.role == user.role,
                                              User.username != user.username).order_by(User.username)).all()
    return [u for u in rows if _same_desk(u, user)]


def _same_desk(colleague: User, user: User) -> bool:
    """Same jurisdiction (the role is the same, so the same level) and, for agency staff, the same agency."""
    if access.is_agency_staff(user) and colleague.agency != user.agency:
        return False
    return access.in_scope(colleague, user.district, user.street, user.community)


def day_range(row: Substitute) -> tuple[date, date]:
    """The period as the days the user named (both included)."""
    return row.starts_at.astimezone(SHANGHAI).date(), (row.ends_at.astimezone(SHANGHAI) - timedelta(days=1)).date()


def _period(row: Substitute) -> str:
    first, last = day_range(row)
    return f"{first.isoformat()} 至 {last.isoformat()}"

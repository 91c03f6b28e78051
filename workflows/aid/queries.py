"""Reading the aid register (救助信息共享): a household's current and past aid, and the joint conference's two lists —
possible duplicate aid and possible missed aid.

Everything is found by member ID number (aid_record_members), so aid reaches a household whichever case, program
or agency granted it. Full ID numbers never leave this module unmasked. The lists are scoped like cases: by the
user's jurisdiction (workflows.access), and for agency staff to what concerns their agency.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from .. import access
from ..ages import age_on
from ..idcard import mask_id_number, mask_name
from ..models import Case, User
from ..programs import PROGRAMS
from ..register.amounts import money_text
from ..register.months import last_day, month_of
from .models import AidRecord, AidRecordMember, AidStatus
from .records import household_id_numbers

FAR_FUTURE = date(9999, 12, 31)
# A household counts as reached by a kind of aid when a record of it was in force in the last year (助学 is granted
# once a school year, 助残 and 助医 often once a year).
COVERAGE_DAYS = 365
# Programs whose households the missed-aid rules look at (the seeds: 低保 and 特困 households first).
BASE_PROGRAMS = ("dibao", "tekun")
ID_BATCH = 500
# Who reads the joint conference's reports: supervisors and district staff the district, street staff their street,
# agency staff their agency's part (admins everything).
REPORT_ROLES = ("supervisor", "district_approver", "district_inspector", "finance_officer", "street_clerk",
                "street_reviewer", "agency_officer", "agency_lead")


def kind_name(kind: str) -> str:
    program = PROGRAMS.get(kind)
    return program.name if program else kind


def period_end(record: AidRecord) -> date:
    """The last day the record is in force: its period_to; open for a monthly support still running; the end of
    its month for a one-off with no period given."""
    if record.period_to is not None:
        return record.period_to
    return FAR_FUTURE if record.monthly else last_day(month_of(record.period_from))


def is_current(record: AidRecord, today: date) -> bool:
    return record.status == AidStatus.ACTIVE and period_end(record) >= today


def aid_item(record: AidRecord, members: Sequence[str] = (), today: date | None = None) -> dict:
    """One aid record as the API and the pages show it (ID numbers masked, money as "1234.50")."""
    return {
        "id": record.id,
        "case_id": record.case_id,
        "program": record.program,
        "program_name": kind_name(record.program),
        "kind": record.kind,
        "kind_name": kind_name(record.kind),
        "agency": record.agency,
        "street": record.street,
        "community": record.community,
        "amount": money_text(record.amount) if record.amount is not None else None,
        "monthly": record.monthly,
        "period_from": record.period_from.isoformat(),
        "period_to": record.period_to.isoformat() if record.period_to else None,
        "status": record.status.value,
        "current": is_current(record, today) if today is not None else None,
        "description": record.description,
        "members": [mask_id_number(n) for n in members],
        "granted_at": record.granted_at.isoformat() if record.granted_at else None,
    }


def _members_of(session: Session, ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(ids)
    found: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), ID_BATCH):
        rows = session.execute(select(AidRecordMember.aid_id, AidRecordMember.id_number)
                               .where(AidRecordMember.aid_id.in_(ids[start:start + ID_BATCH]))
                               .order_by(AidRecordMember.aid_id, AidRecordMember.id_number))
        for aid_id, number in rows:
            found[aid_id].append(number)
    return found


def household_aid(session: Session, case: Case, today: date) -> list[dict]:
    """The household's current and past aid from every program and agency, newest first, nothing left out
    (ended and revoked records too): every record that reached one of the case's members. Two queries."""
    numbers = household_id_numbers(case)
    reached = select(AidRecordMember.aid_id).where(AidRecordMember.id_number.in_(numbers))
    records = list(session.scalars(select(AidRecord).where(AidRecord.id.in_(reached))
                                   .order_by(AidRecord.period_from.desc(), AidRecord.id.desc())))
    members = _members_of(session, (r.id for r in records))
    return [aid_item(r, members[r.id], today) for r in records]


# -- duplicate aid ----------------------------------------------------------------------------------------------

def _scoped(user: User, *records) -> ColumnElement[bool]:
    """At least one of the records lies in the user's jurisdiction (and, for agency staff, is their agency's)."""
    conditions = []
    for record in records:
        condition = access.scope_filter(user, record)
        if access.is_agency_staff(user):
            condition = and_(condition, record.agency == user.agency)
        conditions.append(condition)
    return or_(*conditions)


def duplicate_aid(session: Session, user: User, today: date, limit: int = 500) -> list[dict]:
    """Possible duplicate aid: two records of the same kind whose periods overlap and that reached a shared member —
    from two different agencies (重复救助), or the same kind granted twice by one agency (重复发放). Revoked records
    are left out. One item per pair, newest first, with the shared members (masked) and the overlap."""
    a, b = aliased(AidRecord), aliased(AidRecord)
    ma, mb = aliased(AidRecordMember), aliased(AidRecordMember)
    rows = session.execute(
        select(a, b, ma.id_number)
        .join(ma, ma.aid_id == a.id)
        .join(mb, and_(mb.id_number == ma.id_number, mb.aid_id > ma.aid_id))
        .join(b, b.id == mb.aid_id)
        .where(a.kind == b.kind, a.status != AidStatus.REVOKED, b.status != AidStatus.REVOKED,
               # Coarse in SQL (an open end is far away); one-offs without a period are refined below.
               a.period_from <= func.coalesce(b.period_to, FAR_FUTURE),
               b.period_from <= func.coalesce(a.period_to, FAR_FUTURE),
               _scoped(user, a, b))
        .order_by(b.period_from.desc(), b.id.desc(), a.id.desc())
    )
    pairs: dict[tuple[int, int], dict] = {}
    for first, second, number in rows:
        key = (first.id, second.id)
        if key not in pairs:
            start = max(first.period_from, second.period_from)
            end = min(period_end(first), period_end(second))
            if start > end:
                continue
            if len(pairs) >= limit:
                break
            pairs[key] = {
                "kind": first.kind, "kind_name": kind_name(first.kind),
                "reason": "two_agencies" if first.agency != second.agency else "same_agency",
                "reason_text": "不同单位同期重复救助" if first.agency != second.agency else "同一单位同期重复发放",
                "overlap_from": start.isoformat(), "overlap_to": None if end == FAR_FUTURE else end.isoformat(),
                "members": [], "records": [aid_item(second, today=today), aid_item(first, today=today)],
            }
        pairs[key]["members"].append(mask_id_number(number))
    return list(pairs.values())


# -- missed aid -------------------------------------------------------------------------------------------------

def has_disability(member: dict, today: date) -> bool:
    """A member with a disability grade (残疾等级 1–4) should have 助残 from 区残联."""
    return bool(member.get("disability_grade"))


def is_school_age(member: dict, today: date) -> bool:
    """A child aged 6 to 18 (inclusive) on the report date should have 助学 from 区教委."""
    age = age_on(member.get("birth_date"), today)
    return age is not None and 6 <= age <= 18


def is_seriously_ill(member: dict, today: date) -> bool:
    """A seriously ill member (重病) should have 助医."""
    return member.get("serious_illness") is True


@dataclass(frozen=True)
class MissedRule:
    key: str
    name: str
    kind: str  # the aid the member should have (a program key)
    applies: Callable[[dict, date], bool]

    @property
    def agency(self) -> str:
        return PROGRAMS[self.kind].lead_agency


MISSED_RULES: tuple[MissedRule, ...] = (
    MissedRule("disability_without_zhucan", "低保/特困家庭残疾成员未享受助残", "zhucan", has_disability),
    MissedRule("school_age_without_zhuxue", "低保/特困家庭学龄子女未享受助学", "zhuxue", is_school_age),
    MissedRule("ill_without_zhuyi", "低保/特困家庭重病成员未享受助医", "zhuyi", is_seriously_ill),
)


def rules_for(user: User) -> tuple[MissedRule, ...]:
    """Agency staff see the rules of the aid their agency leads; everyone else all of them."""
    if access.is_agency_staff(user):
        return tuple(r for r in MISSED_RULES if r.agency == user.agency)
    return MISSED_RULES


def _base_households(session: Session, user: User, today: date) -> list[Case]:
    """Cases with an active 低保/特困 support (approved; the first paid month may still be ahead)."""
    active = select(AidRecord.case_id).where(
        AidRecord.program.in_(BASE_PROGRAMS), AidRecord.monthly.is_(True), AidRecord.status == AidStatus.ACTIVE,
        func.coalesce(AidRecord.period_to, FAR_FUTURE) >= today)
    place = access.scope_filter(user, Case) if access.is_agency_staff(user) else access.case_filter(user)
    return list(session.scalars(select(Case).where(Case.id.in_(active), place).order_by(Case.id.desc())))


def _covered(session: Session, numbers: list[str], kinds: Iterable[str], today: date) -> set[tuple[str, str]]:
    """(id_number, kind) pairs with a record of that kind in force on `today` or within the last year."""
    since = today - timedelta(days=COVERAGE_DAYS)
    kinds = list(kinds)
    found: set[tuple[str, str]] = set()
    for start in range(0, len(numbers), ID_BATCH):
        rows = session.execute(
            select(AidRecordMember.id_number, AidRecord.kind).join(AidRecord, AidRecord.id == AidRecordMember.aid_id)
            .where(AidRecordMember.id_number.in_(numbers[start:start + ID_BATCH]), AidRecord.kind.in_(kinds),
                   AidRecord.status != AidStatus.REVOKED, AidRecord.period_from <= today,
                   or_(AidRecord.period_to.is_(None), AidRecord.period_to >= since)))
        found.update((number.upper(), kind) for number, kind in rows)
    return found


def missed_aid(session: Session, user: User, today: date, limit: int = 500) -> list[dict]:
    """Possible missed aid: members of active 低保/特困 households a rule says should have an aid they have no
    record of (see MISSED_RULES). One item per member and rule, newest case first."""
    rules = rules_for(user)
    if not rules:
        return []
    households = _base_households(session, user, today)
    numbers = sorted({str(m.get("id_number") or "").upper() for c in households
                      for m in (c.household or {}).get("members", []) if m.get("id_number")})
    covered = _covered(session, numbers, {r.kind for r in rules}, today)
    items: list[dict] = []
    for case in households:
        for member in (case.household or {}).get("members", []):
            number = str(member.get("id_number") or "").upper()
            for rule in rules:
                if not number or not rule.applies(member, today) or (number, rule.kind) in covered:
                    continue
                items.append({
                    "rule": rule.key, "rule_name": rule.name, "expected_kind": rule.kind,
                    "expected_kind_name": kind_name(rule.kind), "expected_agency": rule.agency,
                    "case_id": case.id, "program": case.program, "program_name": kind_name(case.program),
                    "street": case.street, "community": case.community,
                    "head_name": mask_name(case.applicant_name), "member_name": mask_name(member.get("name") or ""),
                    "member_id_number": mask_id_number(number), "relation": member.get("relation"),
                    "age": age_on(member.get("birth_date"), today),
                })
                if len(items) >= limit:
                    return items
    return items


OVERLAP_KINDS = {"duplicate": duplicate_aid, "missed": missed_aid}

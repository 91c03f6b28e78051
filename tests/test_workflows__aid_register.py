"""The aid register's queries: duplicate aid, the missed-aid rules and the quarterly arithmetic (Decimal), on rows
written with record_aid (no process needed)."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.scenario import id_number
from workflows.ages import age_on
from workflows.aid.models import AidRecord, AidStatus
from workflows.aid.quarterly import Quarter, granted_in, months_in_force, quarterly_rows
from workflows.aid.queries import duplicate_aid, household_aid, is_school_age, missed_aid
from workflows.aid.records import record_aid
from workflows.models import Case, User
from workflows.register.models import Payment, PaymentRun, PaymentStatus, Recipient, RunStatus

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
TODAY = date(2026, 3, 10)


@pytest.fixture
def session(app, db):
    with app.app_context():
        yield db.session
        db.session.rollback()


def user(session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def member(name: str, born: str, **extra) -> dict:
    return {"name": name, "id_number": id_number(born.replace("-", "")), "relation": "子女", "birth_date": born,
            "work_capacity": "none", **extra}


def household(session, members: list[dict], program="dibao", street="和平街道", community="和平里社区") -> Case:
    head = member("王建国", "1970-01-01")
    people = [dict(head, relation="本人")] + members
    case = Case(program=program, district="示范区", street=street, community=community, applicant_name="王建国",
                applicant_id_number=head["id_number"], household={"members": people}, household_size=len(people),
                declared_monthly_income=Decimal("800.00"), created_by="sq_heping", created_at=NOW, updated_at=NOW)
    session.add(case)
    session.flush()
    return case


def grant(session, case: Case, program: str, agency: str, start: date, end: date | None = None, amount="100",
          monthly=False, kind=None) -> AidRecord:
    return record_aid(session, case, program=program, kind=kind, agency=agency, now=NOW, period_from=start,
                      period_to=end, amount=Decimal(amount) if amount is not None else None, monthly=monthly)


def test_workflows__duplicates_same_kind_overlapping_shared_member(session):
    child = member("王小明", "2015-06-01")
    home = household(session, [child])
    other = household(session, [child], program="cishan")  # the same child in another household's case
    education = grant(session, home, "zhuxue", "区教委", date(2026, 3, 1), date(2026, 7, 31))
    grant(session, other, "cishan", "区慈善协会", date(2026, 6, 15), kind="zhuxue")  # one-off: June
    grant(session, other, "cishan", "区慈善协会", date(2026, 9, 1), kind="zhuxue")  # after the 助学 period
    grant(session, other, "zhuyi", "区民政局", date(2026, 3, 1))  # another kind
    again = grant(session, home, "zhuxue", "区教委", date(2026, 7, 1), date(2026, 7, 31))  # the same agency twice
    found = duplicate_aid(session, user(session, "supervisor"), TODAY)
    summary = sorted((d["reason"], d["overlap_from"], d["overlap_to"], len(d["members"])) for d in found)
    # home × other share only the child; home × home share both members.
    assert summary == [("same_agency", "2026-07-01", "2026-07-31", 2), ("two_agencies", "2026-06-15", "2026-06-30", 1)]
    # A revoked record is no duplicate any more.
    again.status = again.status.to(AidStatus.REVOKED)
    assert [d["reason"] for d in duplicate_aid(session, user(session, "supervisor"), TODAY)] == ["two_agencies"]
    education.status = education.status.to(AidStatus.REVOKED)
    assert duplicate_aid(session, user(session, "supervisor"), TODAY) == []


def test_workflows__duplicates_scoped_by_street_and_agency(session):
    child = member("李小红", "2012-02-02")
    heping = household(session, [child])
    anding = household(session, [child], street="安定街道", community="安定门社区")
    grant(session, heping, "zhuxue", "区教委", date(2026, 1, 1), date(2026, 6, 30))
    grant(session, anding, "zhuxue", "区教委", date(2026, 2, 1), date(2026, 2, 28))
    assert len(duplicate_aid(session, user(session, "jd_heping"), TODAY)) == 1  # one of the two is theirs
    assert len(duplicate_aid(session, user(session, "jiaowei"), TODAY)) == 1
    assert duplicate_aid(session, user(session, "canlian"), TODAY) == []
    assert duplicate_aid(session, user(session, "sq_anding"), TODAY)[0]["records"][0]["street"] == "安定街道"


def test_workflows__missed_rules(session):
    disabled = member("王残", "1980-05-05", disability_grade=2, relation="配偶")
    six = member("王六", "2020-03-10")  # six on the report day
    nineteen = member("王大", "2007-01-01")  # 19: past school age
    ill = member("王病", "1950-01-01", serious_illness=True, relation="父亲")
    home = household(session, [disabled, six, nineteen, ill])
    grant(session, home, "dibao", "区民政局", date(2026, 4, 1), amount="2000", monthly=True)
    grant(session, home, "zhucan", "区残联", date(2025, 6, 1), date(2025, 6, 30))  # within the last year
    supervisor = user(session, "supervisor")
    found = missed_aid(session, supervisor, TODAY)
    assert sorted((m["rule"], m["age"]) for m in found) == [("ill_without_zhuyi", 76),
                                                           ("school_age_without_zhuxue", 6)]
    assert all("*" in m["member_id_number"] and m["case_id"] == home.id for m in found)
    # Agency staff see the rules of their own aid only.
    assert [m["rule"] for m in missed_aid(session, user(session, "jiaowei"), TODAY)] == ["school_age_without_zhuxue"]
    assert missed_aid(session, user(session, "canlian"), TODAY) == []
    # A year later the old 助残 no longer covers the disabled member.
    later = missed_aid(session, supervisor, date(2026, 7, 1))
    assert "disability_without_zhucan" in {m["rule"] for m in later}
    # A household whose 低保 ended is not looked at; nor is a 助学 household (only 低保/特困 are).
    session.scalars(select(AidRecord).where(AidRecord.program == "dibao")).one().status = AidStatus.ENDED
    other = household(session, [member("赵学", "2014-01-01")], program="zhuxue")
    grant(session, other, "zhukun", "区民政局", date(2026, 1, 1), monthly=True)
    assert missed_aid(session, supervisor, TODAY) == []


def test_workflows__school_age_boundaries():
    assert age_on("2020-03-11", TODAY) == 5 and not is_school_age({"birth_date": "2020-03-11"}, TODAY)
    assert age_on("2007-03-10", TODAY) == 19 and not is_school_age({"birth_date": "2007-03-10"}, TODAY)
    assert age_on("2007-03-11", TODAY) == 18 and is_school_age({"birth_date": "2007-03-11"}, TODAY)
    assert age_on(date(2007, 3, 11), TODAY) == 18 and age_on(None, TODAY) is None and age_on("2007-3-1", TODAY) is None
    assert not is_school_age({"birth_date": "not a date"}, TODAY)
    assert not is_school_age({}, TODAY)


def test_workflows__household_aid_newest_first_nothing_excluded(session):
    child = member("王小明", "2015-06-01")
    home = household(session, [child])
    other = household(session, [child], program="zhuxue")
    old = grant(session, home, "linshi", "区民政局", date(2025, 1, 5), amount="500")
    old.status = old.status.to(AidStatus.REVOKED)
    grant(session, other, "zhuxue", "区教委", date(2026, 3, 1), amount="800")
    grant(session, household(session, []), "zhuyi", "区民政局", date(2026, 3, 1))  # a stranger's household
    items = household_aid(session, home, TODAY)
    assert [(i["program"], i["status"], i["current"]) for i in items] == [
        ("zhuxue", "active", True), ("linshi", "revoked", False)]
    assert all("*" in n for i in items for n in i["members"])


def test_workflows__quarterly_arithmetic(session):
    q1 = Quarter(2026, 1)
    assert q1.months == ["2026-01", "2026-02", "2026-03"] and q1.last_day == date(2026, 3, 31)
    assert Quarter(2026, 4).last_day == date(2026, 12, 31) and Quarter.of(date(2026, 8, 31)).number == 3
    home = household(session, [member("王小明", "2015-06-01")])
    monthly = grant(session, home, "dibao", "区民政局", date(2026, 2, 1), amount="1234.56", monthly=True)
    assert months_in_force(monthly, q1) == 2 and granted_in(monthly, q1) == (Decimal("2469.12"), True)
    monthly.period_to = date(2026, 2, 28)
    assert granted_in(monthly, q1) == (Decimal("1234.56"), True)
    monthly.period_to = None
    grant(session, home, "linshi", "区民政局", date(2026, 3, 31), amount="0.10")
    grant(session, home, "linshi", "区民政局", date(2026, 1, 1), amount="0.20")
    grant(session, home, "linshi", "区民政局", date(2026, 4, 1), amount="1000")  # next quarter
    grant(session, home, "falv", "区司法局", date(2026, 2, 1), amount=None)  # a service: no money
    # Funds used for 低保: the paid lines of the quarter's runs (a failed line is not paid).
    recipient = Recipient(case_id=home.id, program="dibao", rule_set="dibao", district="示范区", street="和平街道",
                          community="和平里社区", head_name="王建国", head_id_number=home.applicant_id_number,
                          household=home.household, household_size=2, monthly_income=Decimal("800"),
                          category="stable", monthly_amount=Decimal("1234.56"), breakdown={}, since_month="2026-02",
                          created_at=NOW, updated_at=NOW)
    session.add(recipient)
    session.flush()
    for month, status in (("2026-02", PaymentStatus.PAID), ("2026-03", PaymentStatus.FAILED),
                          ("2026-04", PaymentStatus.PAID)):
        run = PaymentRun(program="dibao", district="示范区", month=month, status=RunStatus.CLOSED,
                         due_date=date(2026, int(month[-2:]), 10), created_by="cz_payer", created_at=NOW)
        session.add(run)
        session.flush()
        session.add(Payment(run_id=run.id, recipient_id=recipient.id, for_month=month, street="和平街道",
                            amount=Decimal("1234.56"), district_share=Decimal("617.28"),
                            township_share=Decimal("617.28"), status=status))
    session.flush()
    rows = {(r.agency, r.program): r for r in quarterly_rows(session, user(session, "supervisor"), q1)}
    dibao, linshi, falv = rows[("区民政局", "dibao")], rows[("区民政局", "linshi")], rows[("区司法局", "falv")]
    assert isinstance(dibao.granted, Decimal) and dibao.granted == Decimal("2469.12")
    assert dibao.funds_used == Decimal("1234.56")
    assert (dibao.received, dibao.in_progress) == (1, 1)  # the case row itself: opened in Q1, not decided
    assert linshi.one_off_amount == Decimal("0.30") and linshi.funds_used == Decimal("0.30")
    assert linshi.aid_records == 2 and len(linshi.households) == 1
    assert falv.granted == Decimal("0.00") and falv.aid_records == 1
    assert [r.program for r in quarterly_rows(session, user(session, "sifa"), q1)] == ["falv"]
    assert quarterly_rows(session, user(session, "jd_anding"), q1) == []


def test_workflows__quarterly_counts_terminated_apart_from_approved(session):
    """终止 (CaseStatus.CLOSED from in progress) is not an approval: its own column, in the rows and the workbook."""
    from workflows.aid.quarterly import QUARTERLY_COLUMNS, quarterly_report, quarterly_workbook
    from workflows.models import CaseStatus

    decided = datetime(2026, 2, 10, 2, 0, tzinfo=UTC)
    approved, terminated, refused = (household(session, [member(f"王{n}", "2015-06-01")]) for n in "甲乙丙")
    for case, status in ((approved, CaseStatus.APPROVED), (terminated, CaseStatus.CLOSED),
                         (refused, CaseStatus.REFUSED)):
        case.status, case.decided_at = status, decided
    session.flush()
    q1 = Quarter(2026, 1)
    dibao = {(r.agency, r.program): r for r in quarterly_rows(session, user(session, "supervisor"), q1)}[
        ("区民政局", "dibao")]
    assert (dibao.received, dibao.approved, dibao.refused, dibao.terminated, dibao.in_progress) == (3, 1, 1, 1, 0)
    report = quarterly_report(session, user(session, "supervisor"), q1)
    assert report["items"][0]["terminated"] == 1 and report["totals"]["terminated"] == 1
    assert ("已终止", "terminated") in QUARTERLY_COLUMNS
    sheet = load_workbook(io.BytesIO(quarterly_workbook(report))).active
    header = [c.value for c in sheet[2]]
    line = [c.value for c in sheet[3]]
    assert line[header.index("已终止")] == 1 and line[header.index("批准")] == 1

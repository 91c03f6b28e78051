"""The payment run service: who is paid and how much, the funding split, resuming a killed run, concurrent
creation, confirm, carrying failures, and the run's due date and deadline sweep.

Recipients are built directly here (with their 'approved' change row, through workflows.register.ledger) — the
scenario test drives a case through the API instead.
"""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.calendar import BusinessCalendar
from engine.errors import Conflict, InvalidInput
from engine.models import OutboxEvent
from web.extensions import db
from workflows.demo import DISTRICT
from workflows.demo_payments import seed_payments
from workflows.models import Case, CaseStatus, LocalStandard
from workflows.register.ledger import record_change
from workflows.register.models import (
    Payment,
    PaymentRun,
    PaymentStatus,
    Recipient,
    RecipientStatus,
    RunStatus,
)
from workflows.register.payment_runs import (
    LineFilter,
    check_month,
    compute_or_start,
    confirm,
    create_run,
    handle_failure,
    progress,
    run_lines,
)
from workflows.register.run_deadlines import due_date_of, sweep_run_deadlines

NOW = datetime.fromisoformat("2026-03-02T09:00:00+08:00")  # the test clock's start (tests/conftest.START)
_accounts = iter(range(10_000, 99_999))


def make_recipient(session, *, amount="1000.00", since="2026-03", street="和平街道", community="和平里社区",
                   area="urban", program="dibao", status=RecipientStatus.ACTIVE, end_month=None, name="张三",
                   account: str | None = "auto", district=DISTRICT, now=NOW) -> Recipient:
    """A household on the register with an 'approved' change from `since` (not committed)."""
    case = Case(program=program, district=district, street=street, community=community, applicant_name=name,
                applicant_id_number="110105197001010011", household={"members": []}, household_size=1,
                declared_monthly_income=Decimal("0"), status=CaseStatus.APPROVED, created_by="test", created_at=now,
                updated_at=now)
    session.add(case)
    session.flush()
    number = f"62220200{next(_accounts)}" if account == "auto" else account
    recipient = Recipient(case_id=case.id, program=program, rule_set="dibao", district=district, street=street,
                          community=community, area=area, head_name=name, head_id_number="110105197001010011",
                          household={"members": []}, household_size=1, monthly_income=Decimal("0"),
                          category="stable", monthly_amount=Decimal("0"), breakdown={}, status=RecipientStatus.ACTIVE,
                          since_month=since, end_month=end_month, labour_refusals={},
                          bank_name="工商银行" if number else None, account_number=number, created_at=now,
                          updated_at=now)
    session.add(recipient)
    session.flush()
    record_change(session, recipient, kind="approved", actor="test", reason="审批通过", now=now,
                  effective_month=since, new_amount=Decimal(amount))
    if status != RecipientStatus.ACTIVE:
        recipient.status = status
    return recipient


def new_run(session, month="2026-03", **kwargs):
    return create_run(session, program="dibao", district=DISTRICT, month=month, actor="cz_payer", now=NOW,
                      calendar=BusinessCalendar(), **kwargs)


@pytest.fixture
def session(app, db):
    with app.app_context():
        yield db.session
        db.session.rollback()


def _lines(session, run_id):
    return session.scalars(select(Payment).where(Payment.run_id == run_id).order_by(Payment.recipient_id)).all()


def test_payment_runs__pays_who_is_payable_with_the_amount_in_force(session):
    paid = make_recipient(session, amount="1395.00")
    raised = make_recipient(session, amount="800.00", since="2026-01", street="安定街道", community="安定门社区")
    record_change(session, raised, kind="review", actor="test", reason="复核", now=NOW, effective_month="2026-03",
                  new_amount=Decimal("900.50"))
    record_change(session, raised, kind="review", actor="test", reason="以后", now=NOW, effective_month="2026-04",
                  new_amount=Decimal("1200.00"))
    make_recipient(session, since="2026-04")  # approved in March: first paid in April
    make_recipient(session, status=RecipientStatus.SUSPENDED)
    make_recipient(session, since="2026-01", end_month="2026-03", status=RecipientStatus.STOPPED)
    exiting = make_recipient(session, since="2026-01", end_month="2026-04", status=RecipientStatus.EXITING)
    make_recipient(session, program="tekun")
    make_recipient(session, district="别的区")
    session.commit()

    run, created = new_run(session)
    assert created and run.status == RunStatus.DRAFT
    lines = _lines(session, run.id)
    assert [(line.recipient_id, line.amount) for line in lines] == [
        (paid.id, Decimal("1395.00")), (raised.id, Decimal("900.50")), (exiting.id, Decimal("1000.00"))]
    assert run.households == 3 and run.total == Decimal("3295.50")
    assert run.by_street == [{"street": "和平街道", "households": 2, "total": "2395.00"},
                             {"street": "安定街道", "households": 1, "total": "900.50"}]
    assert run.by_funding == {"district": "1647.75", "township": "1647.75"}
    assert all(line.status == PaymentStatus.PENDING and line.account_number for line in lines)


def test_payment_runs__funding_split_by_the_standard_in_force_adds_up_to_the_fen(session):
    session.add(LocalStandard(district=DISTRICT, program="dibao", area="rural", amount=Decimal("1395"),
                              effective_from=date(2026, 1, 1), district_share=Decimal("0.6")))
    session.add(LocalStandard(district=DISTRICT, program="dibao", area="rural", amount=Decimal("1395"),
                              effective_from=date(2026, 4, 1), district_share=Decimal("0.9")))
    rural = make_recipient(session, amount="1000.05", area="rural")
    urban = make_recipient(session, amount="1000.05")  # the demo's urban standard has the default 0.5
    session.commit()
    run, _ = new_run(session)
    by_recipient = {line.recipient_id: line for line in _lines(session, run.id)}
    assert (by_recipient[rural.id].district_share, by_recipient[rural.id].township_share) == \
        (Decimal("600.03"), Decimal("400.02"))
    assert (by_recipient[urban.id].district_share, by_recipient[urban.id].township_share) == \
        (Decimal("500.03"), Decimal("500.02"))
    assert run.by_funding == {"district": "1100.06", "township": "900.04"}


def test_payment_runs__creating_again_answers_the_same_run(session):
    make_recipient(session)
    session.commit()
    first, created = new_run(session)
    again, created_again = new_run(session)
    assert created and not created_again and again.id == first.id
    assert session.scalar(select(func.count()).select_from(Payment)) == 1


def test_payment_runs__a_killed_run_resumes_with_no_line_twice_and_none_missing(session):
    people = [make_recipient(session, amount=f"{500 + i}.00") for i in range(7)]
    session.commit()

    class Killed(Exception):
        pass

    def kill_after_first_batch(written, expected):
        raise Killed

    with pytest.raises(Killed):
        new_run(session, batch_size=3, on_batch=kill_after_first_batch)
    session.rollback()
    run = session.scalars(select(PaymentRun)).one()
    assert run.status == RunStatus.COMPUTING
    assert progress(session, run) == {"written": 3, "expected": 7}
    # A batch that dies before its commit leaves nothing behind either.
    seen = []
    resumed, created = new_run(session, batch_size=3, on_batch=lambda w, e: seen.append((w, e)))
    assert not created and resumed.id == run.id and resumed.status == RunStatus.DRAFT
    lines = _lines(session, run.id)
    assert sorted(line.recipient_id for line in lines) == sorted(p.id for p in people)
    assert resumed.households == 7 and resumed.total == Decimal(sum(500 + i for i in range(7)))
    assert seen[-1] == (7, 7)


def test_payment_runs__month_rules(session):
    with pytest.raises(InvalidInput) as bad:
        check_month("2026-13", NOW)
    assert "month" in bad.value.fields
    check_month("2026-04", NOW)  # next month may be prepared
    with pytest.raises(InvalidInput) as future:
        check_month("2026-05", NOW)
    assert "2026-04" in future.value.fields["month"][0]
    with pytest.raises(InvalidInput) as program:
        create_run(session, program="linshi", district=DISTRICT, month="2026-03", actor="x", now=NOW, calendar=None)
    assert "program" in program.value.fields
    assert session.scalar(select(func.count()).select_from(PaymentRun)) == 0


def test_payment_runs__confirm_once_from_draft(session):
    make_recipient(session)
    session.commit()
    run, _ = new_run(session)
    confirmed = confirm(session, run, actor="cz_payer", now=NOW)
    assert confirmed.status == RunStatus.CONFIRMED and confirmed.confirmed_by == "cz_payer"
    with pytest.raises(Conflict):
        confirm(session, run, actor="cz_payer", now=NOW)


def test_payment_runs__a_carried_failure_is_paid_by_the_next_run_for_its_month(session):
    carried = make_recipient(session, amount="700.00")
    stopped = make_recipient(session, amount="600.00")
    session.commit()
    march, _ = new_run(session)
    lines = {line.recipient_id: line for line in _lines(session, march.id)}
    for line in lines.values():
        line.status = PaymentStatus.FAILED
        line.reason = "账户已销户"
    session.commit()
    with pytest.raises(InvalidInput) as no_reason:
        handle_failure(session, march, lines[stopped.id].id, action="stop", reason=" ", now=NOW)
    assert "reason" in no_reason.value.fields
    handle_failure(session, march, lines[carried.id].id, action="carry", reason=None, now=NOW)
    handle_failure(session, march, lines[stopped.id].id, action="stop", reason="户主已迁出", now=NOW)
    with pytest.raises(Conflict):
        handle_failure(session, march, lines[stopped.id].id, action="carry", reason=None, now=NOW)

    april, _ = new_run(session, month="2026-04")
    april_lines = _lines(session, april.id)
    assert sorted((line.recipient_id, line.for_month, line.carried_from_id) for line in april_lines) == sorted([
        (carried.id, "2026-04", None), (stopped.id, "2026-04", None),
        (carried.id, "2026-03", lines[carried.id].id)])
    assert april.total == Decimal("2000.00") and april.households == 2
    failed = run_lines(session, march, LineFilter(status="stopped"))
    assert failed[0] == 1 and failed[1][0]["reason"] == "账户已销户；户主已迁出"


def test_payment_runs__concurrent_creation_gives_one_run(app, session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (SQLite serialises the whole database)")
    for i in range(40):
        make_recipient(session, amount=f"{100 + i}.00")
    session.commit()
    results, errors = [], []
    barrier = threading.Barrier(2)

    def create():
        with app.app_context():
            try:
                barrier.wait()
                run, created = new_run(db.session, batch_size=7)
                results.append((run.id, created, run.status))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len({run_id for run_id, _, _ in results}) == 1
    assert sorted(created for _, created, _ in results) == [False, True]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PaymentRun)) == 1
    assert session.scalar(select(func.count()).select_from(Payment)) == 40
    assert session.scalar(select(func.count(func.distinct(Payment.recipient_id)))) == 40


def test_run_deadlines__due_the_last_working_day_before_the_10th():
    calendar = BusinessCalendar()
    assert due_date_of("2026-03", calendar) == date(2026, 3, 9)  # Monday
    assert due_date_of("2026-05", calendar) == date(2026, 5, 9)  # a Saturday, but a make-up workday (调休上班)
    assert due_date_of("2026-08", calendar) == date(2026, 8, 7)  # Sunday the 9th → Friday the 7th
    assert due_date_of("2026-03", None) == date(2026, 3, 9)


def test_run_deadlines__the_sweep_reminds_then_marks_overdue_and_escalates_once(session):
    make_recipient(session)
    session.commit()
    run, _ = new_run(session, month="2026-04")
    calendar = BusinessCalendar()
    assert run.due_date == date(2026, 4, 9)  # Thursday

    def events():
        return [(e.event_type, e.payload["recipients"]["role"]) for e in
                session.scalars(select(OutboxEvent).where(OutboxEvent.event_type.like("payment_run.%"))
                                .order_by(OutboxEvent.id))]

    assert sweep_run_deadlines(session, calendar, NOW) == 0
    before = datetime.fromisoformat("2026-04-07T23:59:00+08:00")
    assert sweep_run_deadlines(session, calendar, before) == 0
    remind = datetime.fromisoformat("2026-04-08T00:00:00+08:00")  # the working day before the due day begins
    assert sweep_run_deadlines(session, calendar, remind) == 1
    assert sweep_run_deadlines(session, calendar, remind + timedelta(hours=3)) == 0
    assert events() == [("payment_run.reminder", "finance_officer")]
    late = datetime.fromisoformat("2026-04-10T00:00:00+08:00")  # 24:00 of the 9th
    assert sweep_run_deadlines(session, calendar, late - timedelta(minutes=1)) == 0
    assert sweep_run_deadlines(session, calendar, late) == 1
    assert sweep_run_deadlines(session, calendar, late + timedelta(days=1)) == 0
    session.expire_all()
    run = session.get(PaymentRun, run.id)
    assert run.reminded_at and run.overdue_at == late and run.escalated_at == late
    assert events() == [("payment_run.reminder", "finance_officer"), ("payment_run.overdue", "finance_officer"),
                        ("payment_run.escalated", "supervisor")]


def test_run_deadlines__a_confirmed_run_is_left_alone(session):
    make_recipient(session)
    session.commit()
    run, _ = new_run(session, month="2026-04")
    confirm(session, run, actor="cz_payer", now=NOW)
    assert sweep_run_deadlines(session, BusinessCalendar(), datetime.fromisoformat("2026-04-20T09:00:00+08:00")) == 0


def test_payment_runs__batches_of_nobody_payable_move_on(session):
    paid = [make_recipient(session), make_recipient(session, street="安定街道", community="安定门社区")]
    for _ in range(4):
        make_recipient(session, status=RecipientStatus.SUSPENDED)
    late = make_recipient(session)
    make_recipient(session, since="2026-04")
    session.commit()
    seen = []
    run, _ = new_run(session, batch_size=2, on_batch=lambda written, expected: seen.append(written))
    assert sorted(line.recipient_id for line in _lines(session, run.id)) == [paid[0].id, paid[1].id, late.id]
    assert seen == [2, 2, 2, 3, 3]  # after each of the four batches, then at the end


def test_demo_payments__the_demo_month_run_is_created_and_confirmed_once(app, session):
    engine = app.extensions["jiuzhu.engine"]
    assert seed_payments(session, engine) is None  # nobody on the register yet
    make_recipient(session, since="2026-04")  # approved this month: paid from next month
    session.commit()
    run = seed_payments(session, engine)
    assert run is not None and (run.month, run.status, run.households) == ("2026-04", RunStatus.CONFIRMED, 1)
    assert seed_payments(session, engine) is None
    assert session.scalar(select(func.count()).select_from(PaymentRun)) == 1


def test_payment_runs__a_large_run_computes_in_the_background(session):
    people = [make_recipient(session, amount="100.00") for _ in range(5)]
    session.commit()
    run, created = new_run(session, compute_now=False)
    assert created and run.status == RunStatus.COMPUTING and progress(session, run) == {"written": 0, "expected": 5}
    assert compute_or_start(session, run, background_above=4)
    worker = next(t for t in threading.enumerate() if t.name == f"payment-run-{run.id}")
    worker.join(30)
    session.expire_all()
    run = session.get(PaymentRun, run.id)
    assert run.status == RunStatus.DRAFT and run.households == len(people) and run.total == Decimal("500.00")
    assert not compute_or_start(session, run)  # nothing left to compute

"""Functions BPMN scripts may call (whitelisted into the script sandbox).

They run inside an engine step, so they write through the step's session and transaction: a selection made for a
step that later fails is rolled back with it.
"""
from __future__ import annotations

import functools
import random
from datetime import datetime, timedelta
from typing import NamedTuple, cast

from sqlalchemy import Executable, Table, bindparam, false, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.clock import SHANGHAI
from engine.deadlines import Deadlines
from engine.models import AuditEntry
from engine.runtime import current_step

from . import income, subsidy
from .audit_actions import CaseAction
from .complaints.process import COMPLAINT_FUNCTIONS
from .complaints.rules import REPORTED, case_in_step, reported_params
from .linshi_steps import FUNCTIONS as LINSHI_FUNCTIONS
from .models import SpotCheckTally
from .sampling import must_visit
from .tekun import SCRIPT_FUNCTIONS as TEKUN_FUNCTIONS
from .zhuanxiang import record_program_aid

_rng = random.SystemRandom()


def request_economic_check(case_id) -> bool:
    """Ask the district verification centre for the cross-agency check; it answers with a BPMN message."""
    ctx = current_step()
    ctx.emit("economic_check.requested", {
        "case_id": case_id,
        "process_instance_id": ctx.instance.id,
        "district": ctx.instance.district,
        "street": ctx.instance.street,
        "reply_message": "economic_check.completed",
    })
    return True


def spot_check_required(district, mandatory, program="dibao") -> bool:
    """Decide the district home visit, keeping the month's visited share of the program at or above 30% after every
    decision (each program — 低保, 特困 — keeps its own district-month tally)."""
    ctx = current_step()
    session = ctx.session
    month = ctx.now.astimezone(SHANGHAI).strftime("%Y-%m")
    params = {"district": district, "program": str(program or "dibao")[:50], "month": month,
              "instance_id": ctx.instance.id}
    # A reported household's next decision is always visited (投诉举报, workflows.complaints.rules), as an objected
    # case is: an open or founded complaint about it, received before this decision, makes the visit mandatory.
    # Asked only when the visit is not mandatory already, with the tally read below.
    case = None if mandatory else case_in_step(ctx)
    if case is not None:
        params.update(reported_params(case, ctx.now, instance_id=ctx.instance.id))
    if session.autoflush:
        session.flush()  # what the ORM's autoflush did for these statements: the checks read cases and complaints
    connection = session.connection()
    statements = _tally_statements(connection.dialect.name, case is not None)
    if statements.checks is None:
        tally_id, decided, visited, earlier, reported = connection.execute(statements.tally, params).one()
    else:
        tally_id, decided, visited = connection.execute(statements.tally, params).one()
        earlier, reported = connection.execute(statements.checks, params).one()
    mandatory = bool(mandatory) or bool(reported)
    if earlier is not None:
        # A case sent back past its notice reaches the selection again: it is the same decided case, so the
        # tally must not count it twice. It keeps a visit it already had, and gets one if it is now mandatory.
        visit = bool(earlier.get("visit")) or mandatory
        changed = visit and not earlier.get("visit")
        visited += int(changed)
    else:
        visit = must_visit(decided, visited, mandatory, _rng)
        changed = True
        decided, visited = decided + 1, visited + int(visit)
    if changed:
        connection.execute(_TALLY_UPDATE, {"tally_id": tally_id, "decided": decided, "visited": visited})
    ctx.audit(CaseAction.SPOT_CHECK_SELECTED, detail={"visit": visit, "mandatory": mandatory, "month": month,
                                                      "repeat": earlier is not None})
    return visit


_TALLY_TABLE = cast(Table, SpotCheckTally.__table__)


class _TallyStatements(NamedTuple):
    tally: Executable  # creates, locks and reads the district-month tally (with the checks on PostgreSQL)
    checks: Executable | None  # the earlier selection and the complaint check, where they are not in `tally`


@functools.cache
def _tally_statements(dialect: str, reported: bool) -> _TallyStatements:
    """The selection's statements on bound parameters, built once per dialect (their SQL and cache keys reused).

    The tally statement creates the district-month row if need be, locks it and reads it: the no-op DO UPDATE
    takes the row lock, so concurrent selections in one district take turns and none reads a stale tally
    (RETURNING gives the row as locked, i.e. the latest committed counts). The checks: this instance's latest
    selection in the same month (the step holds the instance row lock, so it cannot change under us), and, for a
    case not already mandatory, the complaint check."""
    table = _TALLY_TABLE
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    tally = (insert(table).values(district=bindparam("district"), program=bindparam("program"),
                                  month=bindparam("month"), decided=0, visited=0)
             .on_conflict_do_update(index_elements=["district", "program", "month"],
                                    set_={"decided": table.c.decided})
             .returning(table.c.id, table.c.decided, table.c.visited))
    earlier = (select(AuditEntry.detail)
               .where(AuditEntry.instance_id == bindparam("instance_id"),
                      AuditEntry.action == CaseAction.SPOT_CHECK_SELECTED.value,
                      AuditEntry.detail["month"].as_string() == bindparam("month"))
               .order_by(AuditEntry.id.desc()).limit(1).scalar_subquery())
    checks = (earlier, REPORTED if reported else false())
    if dialect == "postgresql":
        # The checks ride along as subqueries of RETURNING: one round trip in all.
        return _TallyStatements(tally.returning(*checks), None)
    # SQLite renders RETURNING without table names, which would misbind the subqueries' columns; in-process, a
    # second statement costs it no round trip.
    return _TallyStatements(tally, select(*checks))


_TALLY_UPDATE = (update(_TALLY_TABLE).where(_TALLY_TABLE.c.id == bindparam("tally_id"))
                 .values(decided=bindparam("decided"), visited=bindparam("visited")))


def compute_subsidy(household, monthly_income, local_standard, topup_rates=None):
    """The monthly amount, with ages taken on the step's day (scripts cannot read the clock themselves).

    Task data must stay JSON (the engine's serializer has no Decimal), and the diagrams compare the amount with
    numbers: the Decimal goes into the process as a JSON number. It has 2 places, so Decimal(str(x)) on the way
    out (workflows.listener) gives back exactly the computed amount."""
    today = current_step().now.astimezone(SHANGHAI).date()
    return float(subsidy.compute_subsidy(household, monthly_income, local_standard, topup_rates, today=today))


def assess_income(survey_income, economic_check, household, local_standard):
    """收入认定: the survey's and the check's countable income, the assessed (higher) figure and the flags the street
    review must decide (workflows.income.assess); JSON-ready, money as numbers in yuan per month."""
    members = (household or {}).get("members") or []
    return income.assess(survey_income, economic_check or {}, len(members), local_standard)


# -- working days and time limits (engine.calendar, engine.deadlines) -----------------------------------------
# Instants go in and out of task data as ISO strings with +08:00 (task data must stay JSON); None means the
# step's own time, since scripts cannot read the clock themselves.

def _instant(value, name: str):
    if value is None:
        return current_step().now
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise ValueError(f"{name} 不是 ISO 时间：{value!r}") from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=SHANGHAI)
    return instant


# The calendar walks day by day and runs in the step's process, outside the script runner's CPU limit: bound the
# work one call may ask for (ten years either way is far beyond any time limit of the procedures).
MAX_WORKING_DAYS = 2500
MAX_SPAN = timedelta(days=3660)


def _working_days(n) -> int:
    days = int(n)
    if abs(days) > MAX_WORKING_DAYS:
        raise ValueError(f"工作日数超出范围（最多 {MAX_WORKING_DAYS} 个）：{days}")
    return days


def _calendar():
    calendar = current_step().engine.calendar
    if calendar is None:
        raise RuntimeError("没有配置工作日历")
    return calendar


def add_working_days(start, n) -> str:
    """The deadline "within n working days of start" (24:00 of the n-th working day, as 00:00+08:00 of the next
    day); start None = now. Holidays and make-up workdays (调休) count as the calendar says."""
    return _calendar().add_working_days(_instant(start, "start"), _working_days(n)).astimezone(SHANGHAI).isoformat()


def working_deadline(n) -> str:
    """add_working_days(now, n): usable as a timer's timeDate expression."""
    return add_working_days(None, n)


def working_days_between(a, b=None) -> int:
    """Working days after a's date up to and including b's date (b None = now)."""
    start, end = _instant(a, "a"), _instant(b, "b")
    if abs(end - start) > MAX_SPAN:
        raise ValueError("两个时间相隔超过十年，超出范围")
    return _calendar().working_days_between(start, end)


def _deadlines():
    return Deadlines(current_step().engine)


def case_time_limit(days, max_days=None) -> str:
    """The whole case must be done within `days` working days from now, extendable to `max_days` (办理总时限)."""
    ctx = current_step()
    due = _deadlines().set_limit_in_step(ctx.session, ctx.instance, ctx.now, _working_days(days),
                                         None if max_days is None else _working_days(max_days), step=ctx)
    return due.astimezone(SHANGHAI).isoformat()


def extend_case_time_limit(days, reason=None) -> str:
    ctx = current_step()
    due = _deadlines().extend_in_step(ctx.session, ctx.instance, ctx.now, _working_days(days), actor=ctx.actor,
                                      reason=reason, step=ctx)
    return due.astimezone(SHANGHAI).isoformat()


def pause_time_limits(reason=None) -> bool:
    """The case waits on the applicant (补正材料): every time limit of the case stands still until resumed."""
    ctx = current_step()
    _deadlines().pause_in_step(ctx.session, ctx.instance, ctx.now, actor=ctx.actor, reason=reason, step=ctx)
    return True


def resume_time_limits() -> int:
    """Restart the clocks; returns the working days the pause covered (they are added to every open deadline)."""
    ctx = current_step()
    return _deadlines().resume_in_step(ctx.session, ctx.instance, ctx.now, actor=ctx.actor, step=ctx)


FUNCTIONS = {
    "request_economic_check": request_economic_check,
    "spot_check_required": spot_check_required,
    "compute_subsidy": compute_subsidy,
    "assess_income": assess_income,
    "add_working_days": add_working_days,
    "working_deadline": working_deadline,
    "working_days_between": working_days_between,
    "case_time_limit": case_time_limit,
    "extend_case_time_limit": extend_case_time_limit,
    "pause_time_limits": pause_time_limits,
    "resume_time_limits": resume_time_limits,
    **TEKUN_FUNCTIONS,  # 特困人员供养: tekun_assess, tekun_support
    "record_program_aid": record_program_aid,
    **LINSHI_FUNCTIONS,  # 临时救助: linshi_limits, linshi_tier, linshi_income_test, linshi_pay …
    **COMPLAINT_FUNCTIONS,  # 投诉举报: complaint_taken_up, complaint_unfounded, complaint_correct, complaint_fraud
}

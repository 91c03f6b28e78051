"""The demo cases (workflows.demo_cases): every demo user finds work, some of it late and escalated, some cases
decided; nothing is stamped after now and the clock that was running is running again afterwards."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import DateTime, func, select

from engine import clock as clock_module
from engine.models import AuditEntry, Base, HumanTask, TaskDeadlineEvent, TaskStatus
from workflows.idcard import validate_id_number
from workflows.models import Case, CaseStatus

# Columns that hold a time still to come by design (deadlines, the notice's end, the next timer or retry).
FUTURE_ALLOWED = {"notice_until", "next_timer_at", "due_at", "remind_at", "next_escalation_at", "next_attempt_at",
                  "locked_until", "expires_at", "blocked_until"}
# Sign-in sessions and login throttling run on real time, not on the engine's (simulated) clock (web.auth._now).
REAL_TIME_TABLES = {"user_sessions", "login_attempts"}
# Every demo user whose role the 低保 flow reaches, and the step(s) that should be on their desk.
WORKERS = {
    "sq_heping": {"appraisal"},
    "sq_anding": {"appraisal"},
    "jd_heping": {"accept", "relatives_check", "household_survey", "reinvestigation", "refusal_notice"},
    "jd_anding": {"accept", "relatives_check", "household_survey"},
    "jd_heping_lead": {"street_review"},
    "jd_anding_lead": {"street_review"},
    "qu_inspector": {"spot_check"},
    "qu_approver": {"approval"},
    "cz_payer": {"payment_setup"},
}
EVERY_STEP = {"accept", "relatives_check", "household_survey", "appraisal", "street_review", "reinvestigation",
              "spot_check", "approval", "payment_setup", "refusal_notice"}


def _is_datetime(column) -> bool:
    return isinstance(column.type, DateTime) or isinstance(getattr(column.type, "impl", None), DateTime)


@pytest.fixture
def seeded(app, db):
    from web.deadline_service import deadlines
    from workflows.demo_cases import seed_cases

    lines: list[str] = []
    with app.app_context():
        before = clock_module.active()
        now = before.now()
        started = time.monotonic()
        summary = seed_cases(db.session, app.extensions["jiuzhu.engine"], deadlines=deadlines(app),
                             echo=lines.append)
        elapsed = time.monotonic() - started
        assert clock_module.active() is before and before.now() == now
    return {"summary": summary, "lines": lines, "now": now, "seconds": elapsed}


def test_demo_cases__every_step_every_user_some_late_some_decided(app, db, login, seeded):
    summary, now = seeded["summary"], seeded["now"]
    assert summary is not None
    # ~4 s on SQLite, ~9 s on PostgreSQL here; the bound only catches a run gone badly wrong on a busy machine.
    assert seeded["seconds"] < 30, seeded["seconds"]
    assert summary["cases"] >= 30
    assert summary["approved"] >= 3 and summary["refused"] >= 1
    assert summary["overdue"] >= 3 and summary["escalated"] >= 3

    # Every step of the flow has a case standing in it, and so do the two waits (economic check, notice).
    with app.app_context():
        open_steps = set(db.session.scalars(select(HumanTask.element_id).where(HumanTask.status == TaskStatus.OPEN)))
        assert EVERY_STEP <= open_steps
        stages = set(db.session.scalars(select(Case.stage)))
        assert "公示中" in stages and any("等待家庭经济状况核对结果" in s for s in stages if s)
        streets = set(db.session.scalars(select(Case.community)))
        assert streets == {"和平里社区", "和平东社区", "安定门社区", "安定西社区"}
        approved = db.session.scalars(select(Case).where(Case.status == CaseStatus.APPROVED)).all()
        assert all(c.amount and c.amount > 0 for c in approved)
        objected = db.session.scalar(select(func.count()).select_from(Case).where(Case.objected.is_(True)))
        assert objected >= 1
        actions = set(db.session.scalars(select(AuditEntry.action)))
        assert {"comment", "task_claimed", "task_escalated", "task_overdue", "task_reminded", "timer_fired"} <= actions
        returned = db.session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.outcome == "returned"))
        assert returned >= 1
        # Late work climbed the chain up to the supervisor (督办).
        targets = set(db.session.scalars(select(TaskDeadlineEvent.target_role)))
        assert {"street_reviewer", "district_approver", "supervisor"} <= targets
        # Realistic households: valid ID numbers (checksum), unique per person.
        numbers = [m["id_number"] for c in db.session.scalars(select(Case)) for m in c.household["members"]]
        assert len(numbers) == len(set(numbers))
        for number in numbers:
            validate_id_number(number)

    # Every working user finds work of their own on their desk, through the API.
    for username, steps in WORKERS.items():
        items = login(username).get("tasks?view=todo&limit=500").get_json()["items"]
        assert {t["element_id"] for t in items} & steps, (username, [t["element_id"] for t in items])
    claimed = login("jd_anding_lead").get("tasks?view=mine").get_json()["items"]
    assert claimed, "a claimed task stays on its holder's desk"
    # The supervisor and the district see late work (超期) and the overdue report counts escalations.
    for username in ("supervisor", "qu_approver"):
        overdue = login(username).get("tasks?view=all&overdue=1&limit=500").get_json()["items"]
        assert len(overdue) >= 3 and all(t["overdue"] for t in overdue)
    report = login("supervisor").get("reports/overdue/summary").get_json()
    assert report["total"]["escalated"] >= 3, report
    # The 8-week trend has deadline events in more than one week (the cases ran over six simulated weeks).
    assert sum(1 for week in report["trend"] if week["escalated"] or week["overdue"]) >= 2, report["trend"]

    # Nothing is stamped after now (deadlines and the notice's end excepted).
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            if table.name in REAL_TIME_TABLES:
                continue
            for column in table.columns:
                if column.name in FUTURE_ALLOWED or not _is_datetime(column):
                    continue
                values = [v for v in db.session.execute(select(column)).scalars() if v is not None]
                assert all(v <= now for v in values), (table.name, column.name, max(values), now)

    # Progress was shown, and no ID number appears in it.
    text = "\n".join(seeded["lines"])
    assert "已创建" in text
    assert not re.search(r"\d{17}[\dX]", text)

    # A second run (jiuzhu demo on a database with cases) changes nothing.
    from workflows.demo_cases import seed_cases

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Case))
        lines: list[str] = []
        assert seed_cases(db.session, app.extensions["jiuzhu.engine"], echo=lines.append) is None
        assert db.session.scalar(select(func.count()).select_from(Case)) == count
        assert lines and "已有案件" in lines[0]


def test_demo_cases__base_seed_still_writes_no_case(app, db):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
        assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 0

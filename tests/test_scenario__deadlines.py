"""Deadlines that act, with the simulated clock, through the API: a household survey opened on the Thursday before
National Day 2026, its reminder, overdue mark and escalation chain; two workers sweeping at once; a sweep killed
half-way; pauses while the case waits on the applicant.

Calendar facts used (国办发明电〔2025〕7号, as chinese_calendar 1.11 has them): 25–27 Sep 2026 Mid-Autumn, 1–7 Oct
National Day, make-up workdays Sun 20 Sep and Sat 10 Oct.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.models import AuditEntry, DeadlineEventKind, HumanTask, OutboxEvent, TaskDeadlineEvent
from tests.scenario import Dibao, advance

THURSDAY = datetime.fromisoformat("2026-09-24T09:00:00+08:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def national_day(app, db):
    from engine import clock

    clock.active().set(THURSDAY)
    return THURSDAY


def move_to(login, instant: datetime) -> dict:
    """Advance the simulated clock to `instant` through the admin endpoint (which runs every sweep)."""
    from engine import clock

    delta = instant - clock.active().now()
    assert delta >= timedelta(0)
    seconds = int(delta.total_seconds())
    return advance(login, f"PT{seconds}S")


def counts(app, task_id: int | None = None) -> dict:
    from web.extensions import db

    with app.app_context():
        events = select(TaskDeadlineEvent.kind, TaskDeadlineEvent.level, func.count()).group_by(
            TaskDeadlineEvent.kind, TaskDeadlineEvent.level)
        if task_id is not None:
            events = events.where(TaskDeadlineEvent.task_id == task_id)
        found = {(kind.value, level): n for kind, level, n in db.session.execute(events)}
        outbox = dict(db.session.execute(
            select(OutboxEvent.event_type, func.count())
            .where(OutboxEvent.event_type.in_(["task.reminder", "task.overdue", "task.escalated", "task.urged"]))
            .group_by(OutboxEvent.event_type)).all())
        audit = dict(db.session.execute(
            select(AuditEntry.action, func.count())
            .where(AuditEntry.action.in_(["task_reminded", "task_overdue", "task_escalated", "task_urged"]))
            .group_by(AuditEntry.action)).all())
        db.session.remove()
    return {"events": found, "outbox": outbox, "audit": audit}


def task_row(app, task_id: int) -> HumanTask:
    from web.extensions import db

    with app.app_context():
        row = db.session.get(HumanTask, task_id)
        db.session.expunge(row)
        db.session.remove()
    return row


def test_deadlines__survey_from_thursday_before_national_day(app, login, national_day):
    case = Dibao(login)
    case.accept()
    survey = case.open_task("household_survey", "jd_heping")
    # 10 working days from Thu 24 Sep, the day itself not counted: 28, 29, 30 Sep, 8, 9, 10 (make-up Saturday),
    # 12, 13, 14, 15 Oct → due 24:00 Thu 15 Oct. Without the make-up day it would be Fri 16 Oct.
    assert at(survey["due_at"]) == at("2026-10-16T00:00:00+08:00")
    row = task_row(app, survey["id"])
    assert row.remind_at == at("2026-10-15T00:00:00+08:00")  # one working day before: as the last day begins
    assert row.next_escalation_at == row.due_at and row.escalate_to == "street_reviewer"

    # Nothing early: not through the holidays, not one minute before the reminder.
    move_to(login, at("2026-10-08T09:00:00+08:00"))
    move_to(login, at("2026-10-14T23:59:00+08:00"))
    assert counts(app)["events"] == {}

    move_to(login, at("2026-10-15T00:01:00+08:00"))
    found = counts(app)
    assert found["events"] == {("reminder", 0): 1}
    assert found["outbox"] == {"task.reminder": 1} and found["audit"] == {"task_reminded": 1}
    move_to(login, at("2026-10-15T23:59:59+08:00"))  # sweeps again: the reminder is not sent twice
    assert counts(app)["events"] == {("reminder", 0): 1}
    report = login("supervisor").get("reports/overdue?group_by=step").get_json()
    assert report["total"]["overdue"] == 0

    # Overdue at 24:00 Thursday 15 Oct, escalated to the street's reviewer (level 1), in 和平街道.
    move_to(login, at("2026-10-16T00:00:01+08:00"))
    found = counts(app)
    assert found["events"] == {("reminder", 0): 1, ("overdue", 0): 1, ("escalated", 1): 1}
    row = task_row(app, survey["id"])
    assert row.escalation_level == 1 and row.escalate_to == "street_reviewer" and row.overdue_at is not None
    # Level 2 after two more working days still open: Fri 16 and Mon 19 Oct → 00:00 Tue 20 Oct.
    assert row.next_escalation_at == at("2026-10-20T00:00:00+08:00")
    report = login("supervisor").get("reports/overdue?group_by=step").get_json()
    survey_group = next(g for g in report["items"] if g["key"] == "入户调查")
    assert survey_group["overdue"] == 1 and survey_group["escalated"] == 1
    assert survey_group["oldest_overdue_working_days"] == 1  # Friday 16 Oct is its first day overdue

    move_to(login, at("2026-10-19T23:59:00+08:00"))  # the weekend does not count
    assert counts(app)["events"].get(("escalated", 2)) is None
    move_to(login, at("2026-10-20T00:00:01+08:00"))
    assert counts(app)["events"][("escalated", 2)] == 1
    assert task_row(app, survey["id"]).escalate_to == "district_approver"
    move_to(login, at("2026-10-22T00:00:01+08:00"))
    row = task_row(app, survey["id"])
    assert row.escalation_level == 3 and row.escalate_to == "supervisor" and row.next_escalation_at is None
    move_to(login, at("2026-11-30T09:00:00+08:00"))  # the top of the chain: nothing more, ever

    found = counts(app)
    assert found["events"] == {("reminder", 0): 1, ("overdue", 0): 1, ("escalated", 1): 1, ("escalated", 2): 1,
                               ("escalated", 3): 1}
    assert found["outbox"] == {"task.reminder": 1, "task.overdue": 1, "task.escalated": 3}
    assert found["audit"] == {"task_reminded": 1, "task_overdue": 1, "task_escalated": 3}
    # Visible on the case's history, each once, with whom it went to.
    history = case.case()["history"]
    escalations = [h for h in history if h["action"] == "task_escalated"]
    assert [h["detail"]["target_role"] for h in escalations] == ["street_reviewer", "district_approver", "supervisor"]
    assert [h["action"] for h in history].count("task_reminded") == 1
    # Completing the late survey still works, and closes the matter.
    case.survey()
    assert login("supervisor").get("reports/overdue?group_by=step").get_json()["total"]["overdue"] == 0


def test_deadlines__escalation_outbox_payload_names_the_office(app, login, national_day):
    case = Dibao(login, street="安定街道")
    case.accept()
    move_to(login, at("2026-10-15T08:00:00+08:00"))
    move_to(login, at("2026-10-16T08:00:00+08:00"))
    from web.extensions import db

    with app.app_context():
        event = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "task.escalated")).one()
        payload = event.payload
        reminder = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "task.reminder")).one()
        db.session.remove()
    assert payload["recipients"] == {"role": "street_reviewer", "district": "示范区", "street": "安定街道",
                                     "community": None}
    assert payload["element_id"] == "household_survey" and payload["level"] == 1
    assert payload["business_key"] == f"case:{case.id}"
    # The reminder went to the group (nobody had claimed the survey).
    assert reminder.payload["recipients"]["role"] == "street_clerk"


def test_deadlines__claimed_task_reminds_its_assignee(app, login, national_day):
    case = Dibao(login)
    case.accept()
    survey = case.open_task("household_survey", "jd_heping")
    assert login("jd_heping").post(f"tasks/{survey['id']}/claim").status_code == 200
    move_to(login, at("2026-10-15T10:00:00+08:00"))
    from web.extensions import db

    with app.app_context():
        reminder = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "task.reminder")).one()
        db.session.remove()
    assert reminder.payload["recipients"] == {"assignee": "jd_heping"}


def _open_surveys(login, n: int) -> list[int]:
    ids = []
    for i in range(n):
        case = Dibao(login, street="和平街道" if i % 2 else "安定街道")
        case.accept()
        ids.append(case.open_task("household_survey", case.staff["clerk"])["id"])
    return ids


def _sweep_with_two_workers(app, now: datetime) -> list[dict]:
    from web.deadline_service import deadlines
    from web.extensions import db

    barrier = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                service = deadlines(app)
                barrier.wait()
                results.append(service.sweep(now))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_deadlines__two_workers_sweeping_at_once_act_once(app, login, national_day):
    ids = _open_surveys(login, 16)
    # Just before the reminders are due: neither worker fires anything.
    results = _sweep_with_two_workers(app, at("2026-10-14T23:59:59+08:00"))
    assert all(sum(r.values()) == 0 for r in results)
    assert counts(app)["events"] == {}

    results = _sweep_with_two_workers(app, at("2026-10-15T08:00:00+08:00"))
    assert sum(r["reminders"] for r in results) == 16
    assert counts(app)["events"] == {("reminder", 0): 16}

    # Straight to after the last escalation: overdue, then levels 1, 2, 3 — each once per task.
    results = _sweep_with_two_workers(app, at("2026-10-22T08:00:00+08:00"))
    assert sum(r["escalations"] for r in results) == 16 * 3
    found = counts(app)
    assert found["events"] == {("reminder", 0): 16, ("overdue", 0): 16, ("escalated", 1): 16,
                               ("escalated", 2): 16, ("escalated", 3): 16}
    assert found["outbox"] == {"task.reminder": 16, "task.overdue": 16, "task.escalated": 48}
    assert found["audit"] == {"task_reminded": 16, "task_overdue": 16, "task_escalated": 48}
    for task_id in ids:
        assert counts(app, task_id)["events"] == {("reminder", 0): 1, ("overdue", 0): 1, ("escalated", 1): 1,
                                                  ("escalated", 2): 1, ("escalated", 3): 1}
    results = _sweep_with_two_workers(app, at("2026-10-23T08:00:00+08:00"))
    assert all(sum(r.values()) == 0 for r in results)


def test_deadlines__sweep_killed_half_way_then_resumed(app, login, national_day, monkeypatch):
    from engine.deadlines import Deadlines
    from web.deadline_service import deadlines
    from web.extensions import db

    ids = _open_surveys(login, 9)
    calls = {"n": 0}
    original = Deadlines._emit

    def dying_emit(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 9:  # the 5th task's overdue mark, in the second batch of three
            raise SystemExit("worker killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Deadlines, "_emit", dying_emit)
    now = at("2026-10-16T08:00:00+08:00")
    with app.app_context():
        with pytest.raises(SystemExit):
            deadlines(app).sweep_escalations(now, batch=3)
        db.session.remove()
    found = counts(app)
    # Whatever committed is whole: the first batch (3 tasks, overdue mark + level 1 each), plus on SQLite the 4th
    # task (pysqlite commits each savepoint of a batch by itself); the task being handled when killed left nothing.
    done = found["events"][("overdue", 0)]
    assert done in (3, 4) and (done == 3 or app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"))
    assert found["events"] == {("overdue", 0): done, ("escalated", 1): done}
    assert found["outbox"] == {"task.overdue": done, "task.escalated": done}
    assert found["audit"] == {"task_overdue": done, "task_escalated": done}

    monkeypatch.setattr(Deadlines, "_emit", original)
    with app.app_context():
        assert deadlines(app).sweep_escalations(now, batch=3) == 9 - done
        assert deadlines(app).sweep_escalations(now, batch=3) == 0
        db.session.remove()
    found = counts(app)
    assert found["events"] == {("overdue", 0): 9, ("escalated", 1): 9}
    assert found["outbox"] == {"task.overdue": 9, "task.escalated": 9}
    for task_id in ids:
        assert counts(app, task_id)["events"] == {("overdue", 0): 1, ("escalated", 1): 1}


def test_deadlines__a_failing_task_is_postponed_not_blocking(app, login, national_day, monkeypatch):
    from engine.deadlines import Deadlines
    from web.deadline_service import deadlines
    from web.extensions import db

    ids = _open_surveys(login, 3)
    original = Deadlines._escalate

    def broken_for_first(self, task, now):
        if task.id == ids[0]:
            raise RuntimeError("boom")
        return original(self, task, now)

    monkeypatch.setattr(Deadlines, "_escalate", broken_for_first)
    now = at("2026-10-16T08:00:00+08:00")
    with app.app_context():
        assert deadlines(app).sweep_escalations(now) == 2
        db.session.remove()
    first = task_row(app, ids[0])
    assert first.escalation_level == 0 and first.next_escalation_at == now + timedelta(minutes=5)
    monkeypatch.setattr(Deadlines, "_escalate", original)
    with app.app_context():
        assert deadlines(app).sweep_escalations(now + timedelta(minutes=6)) == 1
        db.session.remove()
    assert counts(app)["events"][("overdue", 0)] == 3


def test_deadlines__pause_while_waiting_for_materials(app, login):
    """Mon 2 Mar 2026: survey due 24:00 Mon 16 Mar. Paused Wed 4 → Wed 11 Mar covers 5 working days (5, 6, 9, 10,
    11 Mar): due moves to 24:00 Mon 23 Mar, the reminder with it."""
    case = Dibao(login)
    case.accept()
    survey = case.open_task("household_survey", "jd_heping")
    assert at(survey["due_at"]) == at("2026-03-17T00:00:00+08:00")
    advance(login, "P2D")
    clerk = login("jd_heping")
    response = clerk.post(f"process-instances/{case.instance_id}/pause",
                          json={"reason": "通知申请人补正材料：户口簿复印件"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["paused_at"] is not None
    assert clerk.post(f"process-instances/{case.instance_id}/pause", json={"reason": "再次暂停"}).status_code == 409
    advance(login, "P7D")
    response = clerk.post(f"process-instances/{case.instance_id}/resume", json={"reason": "材料已补齐"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    task = next(t for t in body["tasks"] if t["element_id"] == "household_survey")
    assert at(task["due_at"]) == at("2026-03-24T00:00:00+08:00")
    assert at(task["remind_at"]) == at("2026-03-23T00:00:00+08:00")
    assert task["paused_working_days"] == 5 and task["paused_at"] is None
    actions = [h["action"] for h in case.case()["history"]]
    assert "deadlines_paused" in actions and "deadlines_resumed" in actions
    assert clerk.post(f"process-instances/{case.instance_id}/resume", json={}).status_code == 409


def test_deadlines__no_reminder_or_escalation_while_paused(app, login):
    case = Dibao(login)
    case.accept()
    clerk = login("jd_heping")
    assert clerk.post(f"process-instances/{case.instance_id}/pause", json={"reason": "补正材料"}).status_code == 200
    advance(login, "P20D")  # far past the original due (17 Mar): the clock stands still
    assert counts(app)["events"] == {}
    report = login("supervisor").get("reports/overdue/summary").get_json()
    assert report["total"]["paused"] == 1 and report["total"]["overdue"] == 0
    body = clerk.post(f"process-instances/{case.instance_id}/resume", json={}).get_json()
    task = next(t for t in body["tasks"] if t["element_id"] == "household_survey")
    # Paused Mon 2 Mar 09:00 → Sun 22 Mar 09:00 covers 14 working days (3–6, 9–13, 16–20 Mar): due 24:00 Mon
    # 16 Mar + 14 working days (17–20, 23–27 Mar, 30 Mar–3 Apr) = 24:00 Fri 3 Apr, before Qingming (4–6 Apr).
    assert task["paused_working_days"] == 14
    assert at(task["due_at"]) == at("2026-04-04T00:00:00+08:00")


def test_deadlines__tasks_created_while_paused_start_paused(app, login):
    case = Dibao(login)
    case.accept()
    clerk = login("jd_heping")
    assert clerk.post(f"process-instances/{case.instance_id}/pause", json={"reason": "补正材料"}).status_code == 200
    case.survey()
    case.economic_check()
    info = clerk.get(f"process-instances/{case.instance_id}/deadlines").get_json()
    appraisal = next(t for t in info["tasks"] if t["element_id"] == "appraisal")
    assert appraisal["paused_at"] is not None
    advance(login, "P3D")
    info = clerk.post(f"process-instances/{case.instance_id}/resume", json={}).get_json()
    appraisal = next(t for t in info["tasks"] if t["element_id"] == "appraisal")
    # Created Mon 2 Mar with 5 working days (due 24:00 Mon 9 Mar), paused 3 working days (3, 4, 5 Mar).
    assert appraisal["paused_working_days"] == 3
    assert at(appraisal["due_at"]) == at("2026-03-13T00:00:00+08:00")


def test_deadlines__urging_recorded_each_time(app, login):
    case = Dibao(login)
    survey = case.open_task("accept", "jd_heping")
    supervisor = login("supervisor")
    first = supervisor.post(f"tasks/{survey['id']}/urge", json={"message": "请尽快受理"})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["level"] == 1 and first.get_json()["kind"] == "urged"
    second = supervisor.post(f"tasks/{survey['id']}/urge", json={})
    assert second.get_json()["level"] == 2
    assert login("jd_heping").post(f"tasks/{survey['id']}/urge", json={}).status_code == 403
    history = [h for h in case.case()["history"] if h["action"] == "task_urged"]
    assert [h["actor"] for h in history] == ["supervisor", "supervisor"] and history[0]["opinion"] == "请尽快受理"
    assert counts(app)["outbox"] == {"task.urged": 2}
    case.accept()
    assert supervisor.post(f"tasks/{survey['id']}/urge", json={}).status_code == 409
    # Another district's supervisor would not even see it; a street user of the other street neither.
    assert login("jd_anding_lead").post(f"tasks/{survey['id']}/urge", json={}).status_code == 404


def test_deadlines__events_of_each_kind_recorded_once_by_constraint(app, login):
    """The UNIQUE (task_id, kind, level) constraint itself refuses a second record."""
    from sqlalchemy.exc import IntegrityError

    from web.extensions import db

    case = Dibao(login)
    task_id = case.open_task("accept", "jd_heping")["id"]
    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        for _ in range(2):
            db.session.add(TaskDeadlineEvent(task_id=task_id, instance_id=task.instance_id,
                                             kind=DeadlineEventKind.REMINDER, level=0, at=THURSDAY))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()


def test_deadlines__no_reminder_once_past_due(app, login, national_day):
    """A sweep that first runs after the due time marks the task overdue; a reminder then would say nothing."""
    case = Dibao(login)
    case.accept()
    move_to(login, at("2026-10-16T08:00:00+08:00"))
    assert counts(app)["events"] == {("overdue", 0): 1, ("escalated", 1): 1}
    move_to(login, at("2026-10-16T09:00:00+08:00"))
    assert counts(app)["events"] == {("overdue", 0): 1, ("escalated", 1): 1}


def test_deadlines__district_on_the_2021_rules(app, login):
    """示范区 switches to the 2021 procedure: investigation within 3 working days, no appraisal without objection,
    one notice, district confirmation within 10, the whole case within 30 working days (45 extended)."""
    response = login("admin")._call("put", "rule-sets/示范区/dibao", json={"process_key": "dibao_2021"})
    assert response.status_code == 200, response.get_json()
    case = Dibao(login)
    info = login("jd_heping").get(f"process-instances/{case.instance_id}/deadlines").get_json()
    assert info["process_key"] == "dibao_2021"
    assert info["time_limit_days"] == 30 and info["time_limit_max_days"] == 45
    assert at(info["due_at"]) == at("2026-04-15T00:00:00+08:00")  # Mon 2 Mar + 30 working days (Qingming off)
    case.accept()
    survey = case.open_task("household_survey", "jd_heping")
    assert at(survey["due_at"]) == at("2026-03-06T00:00:00+08:00")  # 3, 4, 5 Mar
    case.survey()
    case.economic_check()
    assert case.stage_elements() == {"street_review"}  # no democratic appraisal without an objection
    case.street_review()
    advance(login, "P8D")  # the one 7-day notice ends
    case.spot_check_if_selected()
    approval = case.open_task("approval", "qu_approver")
    # Confirmation within 10 working days of Tue 10 Mar: 24:00 Tue 24 Mar.
    assert at(approval["due_at"]) == at("2026-03-25T00:00:00+08:00")
    lead = login("jd_heping_lead")
    extended = lead.post(f"process-instances/{case.instance_id}/extend",
                         json={"working_days": 45, "reason": "家庭情况复杂，需补充核查"})
    assert extended.status_code == 200, extended.get_json()
    assert extended.get_json()["time_limit_days"] == 45
    case.approve()
    case.set_up_payment()
    body = case.case()
    assert body["status"] == "approved"
    actions = [h["action"] for h in body["history"]]
    assert "time_limit_set" in actions and "time_limit_extended" in actions


def test_deadlines__2021_objection_brings_appraisal_without_second_notice(app, login):
    login("admin")._call("put", "rule-sets/示范区/dibao", json={"process_key": "dibao_2021"})
    case = Dibao(login)
    case.accept()
    case.survey()
    case.economic_check()
    case.street_review()
    advance(login, "P2D")
    response = login("sq_heping").post(f"cases/{case.id}/objections", json={"reason": "邻居反映其有经营收入"})
    assert response.status_code == 201, response.get_json()
    appraisal = case.open_task("appraisal", "sq_heping")
    assert at(appraisal["due_at"]) == at("2026-03-12T00:00:00+08:00")  # Wed 4 Mar + 5 working days
    case.appraise()
    case.complete("street_recheck", "jd_heping_lead", {"decision": "approve", "opinion": "评议通过"})
    # Straight to the district: no second notice; objected cases are always visited.
    assert case.spot_check_if_selected() is True
    assert case.stage_elements() == {"approval"}

"""Incidents: a timer step that fails in the sweep parks its instance until an admin retries it."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from engine import clock
from engine.incidents import IncidentStillFailing, count_open_incidents, list_incidents, mask_ids
from engine.models import (
    AuditEntry,
    HumanTask,
    Incident,
    InstanceStatus,
    OutboxEvent,
    ProcessInstance,
    TaskStatus,
)
from tests.bpmn_samples import HEADER
from web.extensions import db

ID_NUMBER = "11010119900307123X"


def timer_then_script(key: str = "incident_demo", script: str = "result = 100 / divisor") -> str:
    """start → 1 hour timer → a script task → a user task → end."""
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="故障演示" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            '<bpmn:intermediateCatchEvent id="wait_hour" name="等一小时"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            f'<bpmn:scriptTask id="calc" name="计算"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
            '<bpmn:userTask id="after" name="之后" />'
            '<bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_hour" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="wait_hour" targetRef="calc" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="after" />'
            '<bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")


def start_instances(login, data: dict, count: int = 1, **diagram) -> list[int]:
    response = login("designer").post("process-definitions", data=timer_then_script(**diagram),
                                      headers={"Content-Type": "application/xml"})
    assert response.status_code in (200, 201), response.get_json()
    clerk = login("jd_heping")
    ids = []
    for _ in range(count):
        body = clerk.post("process-instances", json={"process_key": diagram.get("key", "incident_demo"),
                                                      "data": data}).get_json()
        ids.append(body["id"])
    return ids


class Switch:
    """A listener that fails every step of one instance while `on`."""

    def __init__(self, instance_id: int):
        self.instance_id, self.on = instance_id, True

    def after_step(self, ctx, workflow):
        if self.on and ctx.instance.id == self.instance_id:
            raise RuntimeError("下游系统不可用")


def test_incidents__mask_ids():
    assert mask_ids(f"证件号 {ID_NUMBER} 与 110101199003071234 不符") == (
        f"证件号 {ID_NUMBER[:6]}********{ID_NUMBER[-4:]} 与 110101********1234 不符")
    assert mask_ids("金额 1395") == "金额 1395"


def test_incidents__script_error_in_the_sweep_opens_an_incident_and_sweeps_skip_it(app, login):
    broken = start_instances(login, {"divisor": 0})[0]
    healthy = start_instances(login, {"divisor": 4}, key="incident_ok")[0]
    engine = app.extensions["jiuzhu.engine"]
    clock.active().advance(timedelta(hours=2))
    with app.app_context():
        assert engine.sweep_timers() == 1  # the healthy one; the broken one did not stop the sweep
        instance = db.session.get(ProcessInstance, broken)
        assert instance.status == InstanceStatus.INCIDENT
        [incident] = db.session.scalars(select(Incident)).all()
        assert incident.instance_id == broken and incident.kind == "timer" and incident.attempts == 1
        assert incident.element_id == "calc" and incident.element_name == "计算"
        assert "division by zero" in incident.error and incident.resolved_at is None
        assert db.session.get(ProcessInstance, healthy).status == InstanceStatus.RUNNING
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == broken,
                                                            AuditEntry.action == "incident_opened")).one()
        assert entry.actor == "system" and entry.detail["incident_id"] == incident.id
        event = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "process.incident")).one()
        assert event.instance_id == broken and event.payload["element_id"] == "calc"
        assert count_open_incidents(db.session) == 1
        # Skipped by later sweeps: nothing is retried behind the admin's back, no second incident.
        clock.active().advance(timedelta(hours=1))
        assert engine.sweep_timers() == 0
        assert db.session.scalar(select(Incident.attempts)) == 1
        # Still failing on retry: open, one more attempt, back in incident, and the error says why.
        try:
            engine.retry_incident(incident.id, actor="admin")
        except IncidentStillFailing as exc:
            assert "division by zero" in str(exc)
        else:
            raise AssertionError("the retry should have failed")
        db.session.expire_all()
        incident = db.session.get(Incident, incident.id)
        assert incident.attempts == 2 and incident.resolved_at is None
        assert db.session.get(ProcessInstance, broken).status == InstanceStatus.INCIDENT
        assert len(db.session.scalars(select(Incident)).all()) == 1
        db.session.remove()


def test_incidents__retry_runs_the_timer_and_resolves(app, login, monkeypatch):
    [instance_id] = start_instances(login, {"divisor": 5})
    engine = app.extensions["jiuzhu.engine"]
    switch = Switch(instance_id)
    monkeypatch.setattr(engine, "listeners", [*engine.listeners, switch])
    clock.active().advance(timedelta(hours=2))
    with app.app_context():
        assert engine.sweep_timers() == 0
        [row] = list_incidents(db.session)
        assert row.instance_id == instance_id and "下游系统不可用" in row.error
        assert row.element_id == "wait_hour"  # no element in the error: the due timer is named
        switch.on = False
        engine.retry_incident(row.id, actor="admin")
        db.session.expire_all()
        incident = db.session.get(Incident, row.id)
        assert incident.resolved_at == engine.now() and incident.resolved_by == "admin" and incident.attempts == 2
        instance = db.session.get(ProcessInstance, instance_id)
        assert instance.status == InstanceStatus.RUNNING and instance.next_timer_at is None
        task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).one()
        assert task.element_id == "after" and task.status == TaskStatus.OPEN
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.instance_id == instance_id)
                                     .order_by(AuditEntry.id)).all()
        assert actions[-3:] == ["incident_opened", "timer_fired", "incident_resolved"]
        assert db.session.scalars(select(OutboxEvent.event_type)
                                  .where(OutboxEvent.event_type.like("process.incident%"))
                                  .order_by(OutboxEvent.id)).all() == ["process.incident",
                                                                       "process.incident_resolved"]
        assert count_open_incidents(db.session) == 0
        [resolved] = list_incidents(db.session, resolved=True)
        assert resolved.id == row.id
        db.session.remove()


def test_incidents__error_keeps_no_id_number(app, login, monkeypatch):
    [script_failure] = start_instances(login, {"id_number": ID_NUMBER}, script="result = int(id_number)")
    [listener_failure] = start_instances(login, {"divisor": 5}, key="incident_listener")
    engine = app.extensions["jiuzhu.engine"]

    class Leaky:
        def after_step(self, ctx, workflow):
            if ctx.instance.id == listener_failure:
                raise RuntimeError(f"申请人 {ID_NUMBER} 的核对结果无法保存")

    monkeypatch.setattr(engine, "listeners", [*engine.listeners, Leaky()])
    clock.active().advance(timedelta(hours=2))
    with app.app_context():
        engine.sweep_timers()
        incidents = db.session.scalars(select(Incident).order_by(Incident.instance_id)).all()
        assert [i.instance_id for i in incidents] == sorted([script_failure, listener_failure])
        for incident in incidents:
            assert ID_NUMBER not in incident.error and not re.search(r"\d{17}[\dXx]", incident.error)
        leaky = next(i for i in incidents if i.instance_id == listener_failure)
        assert leaky.error == "RuntimeError: 申请人 110101********123X 的核对结果无法保存"
        for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "incident_opened")):
            assert ID_NUMBER not in str(entry.detail)
        for event in db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "process.incident")):
            assert ID_NUMBER not in str(event.payload)
        db.session.remove()


def test_incidents__deadline_sweeps_leave_the_tasks_of_an_instance_in_incident_alone(app, login):
    from web.deadline_service import deadlines

    [instance_id] = start_instances(login, {"divisor": 5})
    engine = app.extensions["jiuzhu.engine"]
    clock.active().advance(timedelta(hours=2))
    with app.app_context():
        assert engine.sweep_timers() == 1
        now = engine.now()
        task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).one()
        task.remind_at, task.due_at = now - timedelta(minutes=1), now + timedelta(days=1)
        instance = db.session.get(ProcessInstance, instance_id)
        instance.status = InstanceStatus.INCIDENT  # as a failed background step of a parallel branch leaves it
        db.session.commit()
        assert deadlines().sweep_reminders(now) == 0
        instance = db.session.get(ProcessInstance, instance_id)
        instance.status = InstanceStatus.RUNNING
        db.session.commit()
        assert deadlines().sweep_reminders(now) == 1  # caught up once the incident is gone
        db.session.remove()


def test_incidents__a_database_error_inside_a_script_call_postpones_instead(app, login, monkeypatch):
    """A lost connection or lock timeout met by a function a script calls is the database's trouble, not the
    instance's: the timer is postponed (retried later), no incident is opened."""
    [instance_id] = start_instances(login, {"d": 1},
                                    script="x = working_days_between('2026-01-01T00:00:00+08:00')")
    engine = app.extensions["jiuzhu.engine"]

    def locked(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setitem(engine.script_engine.environment.functions, "working_days_between", locked)
    clock.active().advance(timedelta(hours=2))
    with app.app_context():
        engine.sweep_timers()
        instance = db.session.get(ProcessInstance, instance_id)
        assert instance.status == InstanceStatus.RUNNING
        assert instance.next_timer_at > clock.active().now()  # postponed
        assert db.session.scalars(select(Incident)).all() == []
        db.session.remove()

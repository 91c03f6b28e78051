"""engine.migration: running 低保 instances move to a newer version, timers and deadlines intact."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine import clock
from engine.deploy import deploy
from engine.errors import NotFound
from engine.migration import MigrationRefused, migrate, migrate_many, preview, select_instances
from engine.models import AuditEntry, HumanTask, InstanceStatus, ProcessInstance, TaskStatus
from tests.scenario import application
from workflows.cases import open_case
from workflows.forms import FORMS
from workflows.models import User
from workflows.roles import TASK_ROLES

DIBAO = Path(__file__).resolve().parents[1] / "bpmn" / "dibao.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
S = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"


def dibao_v2(*, remove: str | None = None) -> bytes:
    """dibao.bpmn with a 公示结果登记 task after the notice and a longer approval limit (or without `remove`)."""
    root = etree.fromstring(DIBAO.read_bytes())
    process = root.find("bpmn:process", NS)
    for prop in process.iterfind(".//bpmn:userTask[@id='approval']//spiffworkflow:property", NS):
        if prop.get("name") == "dueInWorkingDays":
            prop.set("value", "7")
    flow = process.find("bpmn:sequenceFlow[@id='flow_notice_period_to_select_spot_check']", NS)
    flow.set("targetRef", "notice_record")
    task = etree.SubElement(process, f"{B}userTask", id="notice_record", name="公示结果登记")
    extension = etree.SubElement(task, f"{B}extensionElements")
    props = etree.SubElement(extension, f"{S}properties")
    etree.SubElement(props, f"{S}property", name="formKey", value="generic")
    etree.SubElement(props, f"{S}property", name="dueInWorkingDays", value="2")
    etree.SubElement(process, f"{B}sequenceFlow", id="flow_notice_record_to_select_spot_check",
                     sourceRef="notice_record", targetRef="select_spot_check")
    lane = process.find(".//bpmn:lane[@id='lane_street_reviewer']", NS)
    etree.SubElement(lane, f"{B}flowNodeRef").text = "notice_record"
    if remove:
        victim = process.find(f"*[@id='{remove}']")
        after = {f.get("targetRef") for f in process.iterfind("bpmn:sequenceFlow", NS) if f.get("sourceRef") == remove}
        for flow in process.iterfind("bpmn:sequenceFlow", NS):
            if flow.get("targetRef") == remove:
                flow.set("targetRef", after.pop())
            if flow.get("sourceRef") == remove:
                process.remove(flow)
        for ref in process.iterfind(".//bpmn:flowNodeRef", NS):
            if ref.text == remove:
                ref.getparent().remove(ref)
        process.remove(victim)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _deploy_v2(db, engine, xml: bytes) -> int:
    result = deploy(db.session, xml, now=engine.now(), deployed_by="designer", roles=TASK_ROLES,
                    form_keys=set(FORMS))
    return result.definition.version


def _open(db, instance_id: int, element_id: str) -> HumanTask:
    return db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.element_id == element_id,
        HumanTask.status == TaskStatus.OPEN)).one()


def _complete(db, engine, instance_id: int, element_id: str, actor: str, data: dict) -> None:
    engine.complete_task(_open(db, instance_id, element_id).id, actor=actor, data=data)


def start_to_notice(db, engine, count: int, *, until: str | None = None) -> list[int]:
    """`count` 低保 cases of 和平街道 driven through the engine up to the 7-day public notice (or `until`)."""

    worker = db.session.scalars(select(User).where(User.username == "sq_heping")).one()
    ids = []
    for n in range(count):
        case = open_case(db.session, engine, application(name=f"张{n}"), worker)
        db.session.commit()
        ids.append(case.process_instance_id)
    for instance_id in ids:
        _complete(db, engine, instance_id, "accept", "jd_heping", {"decision": "accept", "opinion": "材料齐全"})
        _complete(db, engine, instance_id, "relatives_check", "jd_heping", {"relatives_filed": False})
        _complete(db, engine, instance_id, "household_survey", "jd_heping", {
            "investigators": ["张伟", "李强"], "verified_monthly_income": 800.0, "findings": "属实",
            "visited_on": "2026-03-03"})
        engine.send_message(instance_id, "economic_check.completed",
                            {"passed": True, "monthly_income": 800.0, "findings": "无异常"}, actor="admin")
        _complete(db, engine, instance_id, "appraisal", "sq_heping", {
            "representatives_present": 9, "representatives_total": 12, "result": "pass", "opinion": "同意"})
        if until == "street_review":
            continue
        _complete(db, engine, instance_id, "street_review", "jd_heping_lead",
                  {"decision": "approve", "opinion": "同意上报"})
    return ids


def _timer_due(instance: ProcessInstance) -> str:
    return next(w["due_at"] for w in instance.waiting if w["type"] == "timer")


def _finish(db, engine, instance_id: int) -> None:
    """From after the notice to the end, whatever the v2 path asks for."""
    for _ in range(6):
        instance = db.session.get(ProcessInstance, instance_id, populate_existing=True)
        if instance.status != InstanceStatus.RUNNING:
            return
        task = db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.OPEN)).first()
        assert task is not None, instance.waiting
        data = {
            "notice_record": {"note": "公示无异议"},
            "spot_check": {"visited_on": "2026-03-20", "visitors": ["赵磊", "钱进"], "conclusion": "confirm",
                           "findings": "属实"},
            "approval": {"decision": "approve", "opinion": "同意"},
            "payment_setup": {"bank_name": "北京银行", "account_number": "6222000011112222"},
        }[task.element_id]
        actor = {"notice_record": "jd_heping_lead", "spot_check": "qu_inspector", "approval": "qu_approver",
                 "payment_setup": "cz_payer"}[task.element_id]
        engine.complete_task(task.id, actor=actor, data=data)
    raise AssertionError(f"instance {instance_id} did not finish")


@pytest.mark.slow
def test_migration__100_instances_in_notice_keep_their_timers(app, db, engine):
    with app.app_context():
        ids = start_to_notice(db, engine, 100)
        before = {i: _timer_due(db.session.get(ProcessInstance, i)) for i in ids}
        assert len(set(before.values())) == 1  # all started at the same simulated instant
        clock.active().advance(timedelta(days=2))  # migrate mid-notice, so a restarted timer would show
        assert _deploy_v2(db, engine, dibao_v2()) == 2

        chosen = select_instances(engine, "dibao", from_version=1, element_id="notice")
        assert sorted(i.id for i in chosen) == sorted(ids)
        sample = preview(engine, ids[0], 2)
        assert sample.ok and sample.reason is None
        timer = next(t for t in sample.tasks if t.element_id == "notice")  # the event-based gateway waits
        assert timer.action == "kept" and timer.due_after == timer.due_before

        results = migrate_many(engine, [i.id for i in chosen], 2, actor="designer")
        assert all(r.ok and r.migrated for r in results), [r.reason for r in results if not r.ok][:3]
        db.session.expire_all()
        for instance_id in ids:
            instance = db.session.get(ProcessInstance, instance_id)
            assert instance.definition.version == 2
            assert _timer_due(instance) == before[instance_id]
            assert instance.next_timer_at.isoformat() == before[instance_id]
        migrated = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                     .where(AuditEntry.action == "migrated"))
        assert migrated == 100

        clock.active().advance(timedelta(days=4, hours=23))  # 6 days 23 hours in: not yet due
        assert engine.sweep_timers(limit=500) == 0
        clock.active().advance(timedelta(hours=2))
        assert engine.sweep_timers(limit=500) == 100
        db.session.expire_all()
        for instance_id in ids:  # the v2 path: the added task follows the notice
            assert _open(db, instance_id, "notice_record").role == "street_reviewer"
        for instance_id in ids:
            _finish(db, engine, instance_id)
        db.session.expire_all()
        statuses = db.session.scalars(select(ProcessInstance.status).where(ProcessInstance.id.in_(ids))).all()
        assert set(statuses) == {InstanceStatus.COMPLETED}
        approval_limits = {t.due_at - t.created_at for t in db.session.scalars(
            select(HumanTask).where(HumanTask.element_id == "approval", HumanTask.instance_id.in_(ids)))}
        assert approval_limits and all(limit >= timedelta(days=9) for limit in approval_limits)  # 7 working days


def test_migration__restart_timers_when_asked(app, db, engine):
    with app.app_context():
        [instance_id] = start_to_notice(db, engine, 1)
        due = _timer_due(db.session.get(ProcessInstance, instance_id))
        clock.active().advance(timedelta(days=3))
        _deploy_v2(db, engine, dibao_v2())
        result = migrate(engine, instance_id, 2, actor="designer", keep_timers=False)
        assert result.ok
        db.session.expire_all()
        restarted = _timer_due(db.session.get(ProcessInstance, instance_id))
        assert restarted > due
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id,
                                                            AuditEntry.action == "migrated")).one()
        assert entry.actor == "designer" and entry.detail["from_version"] == 1 and entry.detail["to_version"] == 2


def test_migration__open_task_keeps_or_resets_its_deadline(app, db, engine):
    with app.app_context():
        worker = db.session.scalars(select(User).where(User.username == "sq_heping")).one()
        first = open_case(db.session, engine, application(name="李一"), worker).process_instance_id
        second = open_case(db.session, engine, application(name="李二"), worker).process_instance_id
        db.session.commit()
        for instance_id in (first, second):
            _complete(db, engine, instance_id, "accept", "jd_heping", {"decision": "accept", "opinion": "齐"})
            _complete(db, engine, instance_id, "relatives_check", "jd_heping", {"relatives_filed": False})
        survey = _open(db, first, "household_survey")
        survey_id, due = survey.id, survey.due_at
        engine.claim(survey_id, "jd_heping")
        clock.active().advance(timedelta(days=3))
        _deploy_v2(db, engine, dibao_v2())
        kept = migrate(engine, first, 2, actor="designer")
        reset = migrate(engine, second, 2, actor="designer", keep_deadlines=False)
        assert kept.ok and reset.ok
        db.session.expire_all()
        row = db.session.get(HumanTask, survey_id)
        assert row.status == TaskStatus.OPEN and row.due_at == due and row.assignee == "jd_heping"
        other = _open(db, second, "household_survey")
        assert other.due_at > due  # ten working days from the migration instant
        # The kept task is still workable and the flow goes on on version 2.
        engine.complete_task(survey_id, actor="jd_heping", data={
            "investigators": ["张伟", "李强"], "verified_monthly_income": 800.0, "findings": "属实"})
        assert db.session.get(ProcessInstance, first).definition.version == 2


def test_migration__refused_when_the_current_step_is_gone(app, db, engine):
    with app.app_context():
        [instance_id] = start_to_notice(db, engine, 1, until="street_review")
        state_before = db.session.get(ProcessInstance, instance_id).state
        _deploy_v2(db, engine, dibao_v2(remove="street_review"))
        planned = preview(engine, instance_id, 2)
        assert not planned.ok and "street_review" in planned.reason and "已不存在" in planned.reason
        with pytest.raises(MigrationRefused):
            migrate(engine, instance_id, 2, actor="designer")
        db.session.expire_all()
        instance = db.session.get(ProcessInstance, instance_id)
        assert instance.definition.version == 1 and instance.state == state_before
        assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "migrated")).all()
        with pytest.raises(NotFound):
            preview(engine, instance_id, 9)


def test_migration__a_failing_instance_in_a_batch_is_left_untouched(app, db, engine, monkeypatch):
    with app.app_context():
        ids = start_to_notice(db, engine, 3)
        states = {i: db.session.get(ProcessInstance, i).state for i in ids}
        _deploy_v2(db, engine, dibao_v2())
        victim = ids[1]

        class Boom:
            def after_step(self, ctx, workflow):
                if ctx.instance.id == victim:
                    raise RuntimeError("listener failed half-way")

        monkeypatch.setattr(engine, "listeners", [*engine.listeners, Boom()])
        results = {r.instance_id: r for r in migrate_many(engine, ids, 2, actor="designer")}
        assert results[ids[0]].ok and results[ids[2]].ok
        assert not results[victim].ok and "未改动" in results[victim].reason
        db.session.expire_all()
        failed = db.session.get(ProcessInstance, victim)
        assert failed.definition.version == 1 and failed.state == states[victim]
        assert not db.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == victim,
                                                               AuditEntry.action == "migrated")).all()
        for instance_id in (ids[0], ids[2]):
            assert db.session.get(ProcessInstance, instance_id).definition.version == 2


def test_migration__a_kept_timer_already_due_fires_instead_of_sticking(app, db, engine):
    """The notice ended before the sweep came round: after migrating with keep_timers the flow must go on
    (SpiffWorkflow leaves such a timer READY but not run; nothing would ever wake the instance)."""
    with app.app_context():
        [instance_id] = start_to_notice(db, engine, 1)
        due = _timer_due(db.session.get(ProcessInstance, instance_id))
        clock.active().advance(timedelta(days=8))  # past the notice's end, and no sweep ran
        _deploy_v2(db, engine, dibao_v2())
        result = migrate(engine, instance_id, 2, actor="designer")
        assert result.ok
        timer = next(t for t in result.tasks if t.element_id == "notice")
        assert timer.action == "kept" and timer.due_after == due
        db.session.expire_all()
        instance = db.session.get(ProcessInstance, instance_id)
        assert instance.status == InstanceStatus.RUNNING and instance.definition.version == 2
        # The v2 path: the added task follows the notice, at once.
        assert _open(db, instance_id, "notice_record").role == "street_reviewer"
        assert not any(w["type"] == "timer" and w["element_id"] == "notice" for w in instance.waiting)
        fired = db.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id,
                                                            AuditEntry.action == "timer_fired")).all()
        assert [e.element_id for e in fired] == ["notice"]
        _finish(db, engine, instance_id)

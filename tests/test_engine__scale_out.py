"""Scale out: three `jiuzhu worker` processes sweep 5,000 due timers side by side against one PostgreSQL — every
timer fires exactly once, none is missed, and more than one worker does part of the work.

PostgreSQL is the coordination point: each worker picks due instances and steps each under `SELECT … FOR UPDATE
SKIP LOCKED`, so a row another worker holds is skipped, and one already fired finds nothing due and writes nothing.
SQLite has one writer and no row locks: the scenario means nothing there, so the test runs on PostgreSQL only.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from bench.workers import fired_per_worker, running_workers
from engine.deploy import deploy
from engine.models import ProcessInstance
from tests.bpmn_samples import HEADER
from web.engine_setup import advance_simulated_clock
from web.extensions import db as database

pytestmark = pytest.mark.slow

INSTANCES = 5000
WORKERS = 3
KEY = "scale_out_timer"
XML = (HEADER.format(key=KEY) + f'<bpmn:process id="{KEY}" name="等一小时" isExecutable="true">'
       '<bpmn:startEvent id="start" />'
       '<bpmn:intermediateCatchEvent id="wait" name="等一小时"><bpmn:timerEventDefinition>'
       '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
       '<bpmn:userTask id="after" name="之后" />'
       '<bpmn:endEvent id="end" />'
       '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />'
       '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after" />'
       '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />'
       "</bpmn:process></bpmn:definitions>")


def _due_left(app) -> int:
    with app.app_context():
        left = database.session.scalar(text(
            "SELECT count(*) FROM process_instances WHERE process_key = :k AND status = 'running' "
            "AND next_timer_at IS NOT NULL"), {"k": KEY})
        database.session.remove()
    return left


def test_engine__three_workers_fire_5000_due_timers_exactly_once(app, db, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("scale-out needs PostgreSQL (row locks with SKIP LOCKED); SQLite serialises all writers — "
                    "set JIUZHU_TEST_DATABASE_URL")
    engine = app.extensions["jiuzhu.engine"]
    with app.app_context():
        deploy(database.session, XML.encode(), now=engine.now(), deployed_by="test", roles=set(), form_keys=set())
        database.session.commit()
        first = engine.start(KEY, data={}, business_key=None, started_by="test", scope={"district": "示范区"})
        row = database.session.get(ProcessInstance, first.id)
        assert row.next_timer_at is not None
        # The same waiting instance, 4,999 more times (a step each would take minutes; the rows are identical).
        copy = {c.key: getattr(row, c.key) for c in ProcessInstance.__table__.columns if c.key != "id"}
        database.session.execute(insert(ProcessInstance), [dict(copy) for _ in range(INSTANCES - 1)])
        database.session.commit()
        advance_simulated_clock(timedelta(hours=2))
        versions_before = dict(database.session.execute(text(
            "SELECT id, version FROM process_instances WHERE process_key = :k"), {"k": KEY}).all())
        database.session.remove()
    assert _due_left(app) == INSTANCES

    with running_workers(database_url, WORKERS, tmp_path, "2026-03-02T09:00:00+08:00") as (workers, logs):
        deadline = time.monotonic() + 900
        while _due_left(app) and time.monotonic() < deadline:
            assert all(w.poll() is None for w in workers), [log.read_text()[-2000:] for log in logs]
            time.sleep(1)
        time.sleep(2)  # a sweep that found the last rows already fired returns: nothing more may happen

    assert _due_left(app) == 0, "timers left unfired"
    with app.app_context():
        fired_per_instance = database.session.execute(text(
            "SELECT i.id, i.version, count(a.id) AS fired FROM process_instances i "
            "LEFT JOIN audit_entries a ON a.instance_id = i.id AND a.action = 'timer_fired' "
            "WHERE i.process_key = :k GROUP BY i.id, i.version"), {"k": KEY}).all()
        tasks_per_instance = dict(database.session.execute(text(
            "SELECT instance_id, count(*) FROM human_tasks WHERE process_key = :k GROUP BY instance_id"),
            {"k": KEY}).all())
        incidents = database.session.scalar(text("SELECT count(*) FROM incidents"))
        database.session.remove()
    assert len(fired_per_instance) == INSTANCES
    assert {r.fired for r in fired_per_instance} == {1}, "a timer fired twice or not at all"
    assert all(r.version == versions_before[r.id] + 1 for r in fired_per_instance), "an instance was stepped twice"
    assert len(tasks_per_instance) == INSTANCES and set(tasks_per_instance.values()) == {1}
    assert incidents == 0
    # Each worker logs what its sweeps did: together exactly the 5,000 fires, shared among more than one worker.
    per_worker = fired_per_worker(logs)
    assert sum(per_worker) == INSTANCES, per_worker
    assert sum(1 for n in per_worker if n) >= 2, per_worker

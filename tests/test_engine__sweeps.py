"""The timer sweep: due timers fire once, even with two workers sweeping at the same moment."""
import threading
from datetime import timedelta

from sqlalchemy import func, select

from engine import clock
from engine.models import AuditEntry
from tests.bpmn_samples import with_message_and_timer
from web.extensions import db


def test_sweeps__two_workers_fire_each_timer_once(app, login):
    login("designer").post("process-definitions", data=with_message_and_timer(),
                           headers={"Content-Type": "application/xml"})
    clerk = login("jd_heping")
    ids = []
    for _ in range(30):
        body = clerk.post("process-instances", json={"process_key": "wait_demo"}).get_json()
        clerk.post(f"process-instances/{body['id']}/messages", json={"name": "ping", "payload": {}})
        ids.append(body["id"])
    engine = app.extensions["jiuzhu.engine"]
    with app.app_context():
        assert engine.sweep_timers() == 0  # nothing due yet
    clock.active().advance(timedelta(days=1, minutes=1))
    barrier = threading.Barrier(2)
    handled = []

    def worker():
        with app.app_context():
            barrier.wait()
            handled.append(engine.sweep_timers())
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(handled) == 30
    with app.app_context():
        fired = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == "timer_fired"))
        assert fired == 30
        assert engine.sweep_timers() == 0  # idempotent: a later sweep finds nothing
    for instance_id in ids:
        tasks = clerk.get(f"process-instances/{instance_id}").get_json()["tasks"]
        assert [t["name"] for t in tasks] == ["之后"]


def _waiting(login, count: int) -> list[int]:
    login("designer").post("process-definitions", data=with_message_and_timer(),
                           headers={"Content-Type": "application/xml"})
    clerk = login("jd_heping")
    ids = []
    for _ in range(count):
        body = clerk.post("process-instances", json={"process_key": "wait_demo"}).get_json()
        clerk.post(f"process-instances/{body['id']}/messages", json={"name": "ping", "payload": {}})
        ids.append(body["id"])
    return ids


def test_sweeps__an_instance_no_longer_due_is_skipped_at_the_lock(app, login, monkeypatch):
    """A sweep walking a due list another worker has fired meanwhile skips those rows at the lock (their timer is
    no longer due), without restoring their workflow or writing anything."""
    from engine.models import ProcessInstance

    [instance_id] = _waiting(login, 1)
    engine = app.extensions["jiuzhu.engine"]
    clock.active().advance(timedelta(days=1, minutes=1))
    with app.app_context():
        before = db.session.get(ProcessInstance, instance_id).version
        db.session.rollback()
        engine._workflows.take(instance_id, before)  # not cached: a step would have to restore it

        def no_restore(_instance):
            raise AssertionError("restored an instance whose timer is not due")

        monkeypatch.setattr(engine, "workflow_of", no_restore)
        assert engine.fire_timers(instance_id, skip_locked=True, due_by=engine.now() - timedelta(days=1)) is False
        monkeypatch.undo()
        assert db.session.get(ProcessInstance, instance_id).version == before
        assert engine.fire_timers(instance_id, skip_locked=True, due_by=engine.now()) is True
        db.session.remove()


def test_sweeps__the_worker_sweeps_batch_after_batch_in_one_tick(app, login, monkeypatch):
    """A backlog larger than one batch is fired in one tick of the worker, not one batch per tick."""
    from web import jobs

    _waiting(login, 5)
    clock.active().advance(timedelta(days=1, minutes=1))
    monkeypatch.setattr(jobs, "TIMER_BATCH", 2)
    with app.app_context():
        assert jobs.sweep_timers() == 5
        assert jobs.sweep_timers() == 0
        db.session.remove()

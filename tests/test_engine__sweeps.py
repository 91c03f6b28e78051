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

"""`jiuzhu worker` stops within seconds of SIGTERM, even in the middle of a long sweep."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = 200

# Run in a fresh interpreter (its own app, database and clock): a simulated clock, a diagram whose timer step
# runs a script of some tens of milliseconds, INSTANCES instances whose timers are all due.
SETUP = f"""
from datetime import timedelta
from sqlalchemy import insert, select
from engine.deploy import deploy
from engine.models import ProcessInstance
from web.app import create_app
from web.cli import upgrade_database
from web.engine_setup import advance_simulated_clock
from web.extensions import db
from tests.bpmn_samples import HEADER

KEY = "slow_timer"
XML = (HEADER.format(key=KEY) + f'<bpmn:process id="{{KEY}}" name="慢定时" isExecutable="true">'
       '<bpmn:startEvent id="start" />'
       '<bpmn:intermediateCatchEvent id="wait" name="等一分钟"><bpmn:timerEventDefinition>'
       '<bpmn:timeDuration>"PT1M"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
       '<bpmn:scriptTask id="work" name="计算"><bpmn:script>total = sum(range(1500000))</bpmn:script></bpmn:scriptTask>'
       '<bpmn:endEvent id="end" />'
       '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />'
       '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="work" />'
       '<bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end" />'
       "</bpmn:process></bpmn:definitions>")

app = create_app()
with app.app_context():
    upgrade_database()
    engine = app.extensions["jiuzhu.engine"]
    deploy(db.session, XML.encode(), now=engine.now(), deployed_by="test", roles=set(), form_keys=set())
    db.session.commit()
    first = engine.start(KEY, data={{}}, business_key=None, started_by="test", scope={{}})
    row = db.session.get(ProcessInstance, first.id)
    columns = [c.key for c in ProcessInstance.__table__.columns if c.key != "id"]
    copy = {{c: getattr(row, c) for c in columns}}
    db.session.execute(insert(ProcessInstance), [dict(copy) for _ in range({INSTANCES} - 1)])
    db.session.commit()
    advance_simulated_clock(timedelta(hours=1))
"""


def _environment(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIUZHU_", "DATABASE_URL", "PORT"))}
    env.update({"JIUZHU_INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
                "JIUZHU_CLOCK": "simulated", "JIUZHU_CLOCK_START": "2026-03-02T09:00:00+08:00",
                "JIUZHU_SWEEP_SECONDS": "1", "SECRET_KEY": "sigterm-test", "JIUZHU_ENV": "development",
                "PYTHONPATH": str(ROOT)})
    return env


def _fired(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM audit_entries WHERE action = 'timer_fired'").fetchone()[0]


@pytest.mark.slow
def test_cli__worker_stops_within_seconds_of_sigterm_mid_sweep(tmp_path):
    env = _environment(tmp_path)
    setup = subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert setup.returncode == 0, setup.stderr[-3000:]
    worker = subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _fired(tmp_path / "w.db") < 3:  # the sweep is under way
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker never started sweeping"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = worker.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, err[-3000:]
    assert took < 5, f"the worker took {took:.1f} s to stop"
    assert "后台任务进程已启动" in out
    assert _fired(tmp_path / "w.db") < INSTANCES  # it did stop mid-sweep: the rest waits for the next worker

"""The timer sweep firing 10,000 due 低保 notice timers, beside the in-process floor of the same fire (issue 12,
item 3; target ≥ 500 instances/s).

In its own database (BENCH_TIMER_DATABASE_URL, default jiuzhu_bench_timer, emptied each run), with the app in this
process on a simulated clock: one 低保 case is driven through the API to its notice (公示, a 7-day timer); its
instance row is then copied BENCH_TIMER_INSTANCES - 1 times (default 10,000 in all; the copies carry no case, so
only the original writes to one). The clock is moved past the notice and the engine's own sweep
(`Engine.sweep_timers`, what `jiuzhu worker` runs) fires them in batches of 500: each fire is a real step — lock,
restore, timer, the spot-check selection script in the sandbox (its district tally row lock included), the next
task, save, audit, outbox.

The floor: the same fire by SpiffWorkflow alone — restore the stored state, refresh timers, run the engine steps
with the same sandboxed script engine (the spot-check function stubbed, no database), serialise — one core.
"""
from __future__ import annotations

import cProfile
import logging
import os
import pstats
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.dibao_cases import Case, FlaskApi, logins
from bench.floors import floors, fresh_database, psycopg_dsn, rate_ratio
from bench.workers import fired_per_worker, running_workers, wait_until_started
from engine.models import ProcessInstance
from engine.scripting import make_script_engine
from engine.serialization import dump_state, load_state
from web.app import create_app
from web.cli import bpmn_dir, deploy_files, upgrade_database
from web.engine_access import ENGINE_EXTENSION
from web.engine_setup import advance_simulated_clock, script_limits
from web.extensions import db
from workflows.demo import seed
from workflows.functions import FUNCTIONS

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_timer"
CLOCK_START = "2026-03-02T09:00:00+08:00"
COLUMNS = ("definition_id, process_key, status, state, version, waiting, district, street, community, started_by, "
           "created_at, updated_at, next_timer_at, due_at, time_limit_days, time_limit_max_days")


def _copies_sql(status: str | None = None) -> str:
    """INSERT … SELECT of `:n` copies of instance `:id` (its columns as they are, or with another `status`)."""
    columns = [c.strip() for c in COLUMNS.split(",") if c.strip() in {col.name for col in ProcessInstance.__table__.columns}]
    picked = ", ".join(f"'{status}'" if status and n == "status" else n for n in columns)
    return (f"INSERT INTO process_instances ({', '.join(columns)}) SELECT {picked} FROM process_instances, "
            "generate_series(1, :n) WHERE id = :id")


def _copy_instance(instance_id: int, copies: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(_copies_sql()), {"n": copies, "id": instance_id})
        conn.execute(text("ANALYZE process_instances"))


def _keep_template(instance_id: int) -> int:
    """A cancelled copy of the waiting instance (no sweep looks at it), for the worker phase's own copies."""
    with db.engine.begin() as conn:
        return conn.execute(text(_copies_sql("cancelled") + " RETURNING id"), {"n": 1, "id": instance_id}).scalar_one()


def _due_left(url: str) -> int:
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM process_instances WHERE status = 'running' "
                            "AND next_timer_at IS NOT NULL").fetchone()[0]


def workers_phase(url: str, template_id: int, total: int, workers: int) -> dict:
    """`workers` real `jiuzhu worker` processes (what production runs; sweeping every second) fire `total` due
    copies of the waiting instance, inserted in one statement once every worker is up; timed until none is left.
    All in one district, so every selection takes the same tally row lock in turn: the worst case for scaling."""
    folder = Path(tempfile.mkdtemp(prefix="jiuzhu-bench-workers-"))
    with running_workers(url, workers, folder, CLOCK_START) as (procs, logs):
        wait_until_started(procs, logs)
        time.sleep(1.5)  # past their first (empty) sweep
        with db.engine.begin() as conn:
            conn.execute(text(_copies_sql("running")), {"n": total, "id": template_id})
        began = time.perf_counter()
        left = total
        while left and time.perf_counter() - began < 1800:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited; see {folder}")
            time.sleep(0.2)
            left = _due_left(url)
        seconds = time.perf_counter() - began
    per_worker = fired_per_worker(logs)
    return {"workers": workers, "instances": total, "seconds": seconds, "per_second": (total - left) / seconds,
            "left": left, "fired_per_worker": per_worker}


def floor_of_fire(app, instance_id: int, repeat: int) -> float:
    """Notice-timer fires per second by SpiffWorkflow alone on the stored state (sandboxed scripts, no DB)."""
    engine = app.extensions[ENGINE_EXTENSION]
    with app.app_context():
        instance = db.session.get(ProcessInstance, instance_id)
        loaded = engine.spec_for(instance.definition_id)
        blob = instance.state
        db.session.rollback()
    functions = dict(FUNCTIONS, spot_check_required=lambda district, mandatory: False)
    script_engine = make_script_engine(functions, script_limits(app))
    started = time.perf_counter()
    for _ in range(repeat):
        workflow = load_state(blob, loaded.spec, loaded.subprocess_specs)
        workflow.script_engine = script_engine
        workflow.refresh_timers()
        workflow.do_engine_steps()
        dump_state(workflow)
    return repeat / (time.perf_counter() - started)


def run() -> dict:
    url = os.environ.get("BENCH_TIMER_DATABASE_URL", DEFAULT_URL)
    total = int(os.environ.get("BENCH_TIMER_INSTANCES", "10000"))
    f = floors()
    print(f"   database {make_url(url).render_as_string(hide_password=True)}; {total:,} instances waiting on the "
          "notice timer; the sweep in this process (one worker)", flush=True)
    fresh_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "JIUZHU_CLOCK": "simulated",
                      "JIUZHU_CLOCK_START": CLOCK_START, "JIUZHU_ENV": "development"})
    app.instance_path = tempfile.mkdtemp(prefix="jiuzhu-bench-timer-")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade_database()
        seed(db.session)
        deploy_files(sorted(bpmn_dir().glob("*.bpmn")), echo=lambda *_: None)
        db.session.commit()
    client = app.test_client()
    api = logins(lambda token: FlaskApi(client, token))
    case = Case(api, "和平街道", {}, threading.Lock())
    case.through_street()
    with app.app_context():
        instance = db.session.get(ProcessInstance, case.instance_id)
        assert instance is not None and instance.next_timer_at is not None, "the case is not waiting on its notice"
        db.session.rollback()
        _copy_instance(case.instance_id, total - 1)
        template = _keep_template(case.instance_id)
        advance_simulated_clock(timedelta(days=8))
        db.session.commit()
    floor = floor_of_fire(app, case.instance_id, int(os.environ.get("BENCH_TIMER_FLOOR_REPEAT", "300")))
    engine = app.extensions[ENGINE_EXTENSION]
    fired = 0
    with app.app_context():
        profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") == "1" else None
        started = time.perf_counter()
        while True:
            if profiler:
                profiler.enable()
            handled = engine.sweep_timers(limit=500)
            if profiler:
                profiler.disable()
            fired += handled
            if handled == 0:
                break
        seconds = time.perf_counter() - started
        left = db.session.scalar(text("SELECT count(*) FROM process_instances WHERE next_timer_at IS NOT NULL "
                                      "AND status = 'running'"))
        audit = db.session.scalar(text("SELECT count(*) FROM audit_entries WHERE action = 'timer_fired'"))
        incidents = db.session.scalar(text("SELECT count(*) FROM incidents"))
        db.session.rollback()
    per_second = fired / seconds
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(35)
    print(f"   fired {fired:,} notice timers in {seconds:.1f} s: {rate_ratio(per_second, floor, 'floor of the same fire')}"
          f" — {per_second / 500:.2f} × the 500/s target; {per_second / f.spiff_per_second:.2f} × the three-step "
          f"floor; {audit:,} timer_fired entries, {left} still waiting, {incidents} incidents", flush=True)
    figures = {"instances": total, "fired": fired, "seconds": seconds, "per_second": per_second,
               "floor_of_same_fire_per_second": floor, "ratio_to_floor": per_second / floor,
               "timer_fired_entries": audit, "still_waiting": left, "incidents": incidents, "workers": []}
    # Scale-out: as many due timers again, fired by real `jiuzhu worker` processes side by side.
    for count in [int(n) for n in os.environ.get("BENCH_TIMER_WORKERS", "1,2").split(",") if n.strip()]:
        with app.app_context():
            w = workers_phase(url, template, total, count)
        figures["workers"].append(w)
        print(f"   {count} `jiuzhu worker` process(es) (sweeping each second): {total - w['left']:,} fired in "
              f"{w['seconds']:.1f} s: {rate_ratio(w['per_second'], floor, 'floor of the same fire')} — "
              f"{w['per_second'] / 500:.2f} × the 500/s target; per worker {w['fired_per_worker']}"
              f"{'; ' + str(w['left']) + ' left unfired' if w['left'] else ''}", flush=True)
    return figures

"""The supervisor's overdue reports at 1,000,000 tasks in PostgreSQL (issue: deadlines that act, item 4).

Loads (once; later runs reuse it) 250,000 process instances with 4 tasks each into BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench, created if missing), all in the demo district 示范区 so
the district supervisor's reports cover every row: 20 streets, 8 steps, 40% of instances running with one open task
each (100,000 open tasks, about a quarter of them overdue by 1–15 days), 900,000 completed tasks, ~140,000 deadline
events over the last eight weeks. Then times the API as the `supervisor` (whole district) and a street reviewer
(one street), through the Flask app in this process: p50 / p95 over BENCH_REPEAT (default 30) calls after warm-up,
for `GET /reports/overdue?group_by=agency|street|step`, the overdue list (first page, and 3+ working days old),
the summary (ageing + trend) and the dashboard page; plus the plan PostgreSQL uses for the report.

BENCH_OVERDUE_TASKS changes the size (a multiple of 4). The data is synthetic but has the projection's real shape
and indexes (the app's own Alembic migrations create the schema).
"""
from __future__ import annotations

import logging
import os
import statistics
import time
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.floors import ensure_database
from web.app import create_app
from web.auth import page_session_id
from web.cli import bpmn_dir, deploy_files, upgrade_database
from web.extensions import db
from workflows.demo import seed

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench"
NOW = datetime.fromisoformat("2026-06-15T10:00:00+08:00")  # a Monday
CHUNK = 100_000
STEPS = [  # (element_id, name, role)
    ("accept", "受理", "street_clerk"), ("household_survey", "入户调查", "street_clerk"),
    ("appraisal", "民主评议", "community_worker"), ("street_review", "街道审核", "street_reviewer"),
    ("spot_check", "入户抽查", "district_inspector"), ("approval", "审批", "district_approver"),
    ("payment_setup", "发放设置", "finance_officer"), ("refusal_notice", "书面告知", "street_clerk"),
]
STREETS = ["和平街道", "安定街道"] + [f"第{i}街道" for i in range(3, 21)]


def _values(items: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"


def _load(conn, tasks: int, definition_id: int) -> None:
    instances = tasks // 4
    conn.execute(text("TRUNCATE task_deadline_events, human_tasks, audit_entries, outbox_events, "
                      "process_instances RESTART IDENTITY CASCADE"))
    streets = _values(STREETS)
    started = time.perf_counter()
    for low in range(1, instances + 1, CHUNK):
        high = min(low + CHUNK - 1, instances)
        conn.execute(text(f"""
            INSERT INTO process_instances (id, definition_id, process_key, business_key, status, state, version,
                waiting, district, street, community, started_by, created_at, updated_at, completed_at,
                due_at, time_limit_days, time_limit_max_days)
            SELECT g, :definition, 'dibao', 'case:' || g,
                   CASE WHEN g % 10 < 4 THEN 'running' ELSE 'completed' END, '\\x'::bytea, 1, '[]',
                   '示范区', ({streets})[1 + g % 20], '社区' || (g % 60), 'bench',
                   :now - ((20 + g % 340) * interval '1 day'), :now - ((g % 20) * interval '1 day'),
                   CASE WHEN g % 10 < 4 THEN NULL ELSE :now - ((g % 20) * interval '1 day') END,
                   CASE WHEN g % 10 < 4 AND g % 3 = 0
                        THEN date_trunc('day', :now AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
                             + ((40 - g % 60) * interval '1 day') END,
                   CASE WHEN g % 10 < 4 AND g % 3 = 0 THEN 30 END,
                   CASE WHEN g % 10 < 4 AND g % 3 = 0 THEN 45 END
            FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS g
        """), {"definition": definition_id, "now": NOW, "low": low, "high": high})
        print(f"   instances {high:,}/{instances:,}", flush=True)
    element_ids, names, roles = (_values([s[i] for s in STEPS]) for i in range(3))
    # Task t belongs to instance (t+3)/4 and is its ((t-1) % 4 + 1)-th task; the 4th task of a running instance is
    # open. An open task's due day is -15 … +44 days from today (00:00 Asia/Shanghai): about a quarter overdue.
    for low in range(1, tasks + 1, CHUNK):
        high = min(low + CHUNK - 1, tasks)
        conn.execute(text(f"""
            WITH t AS (
                SELECT g AS id, (g + 3) / 4 AS instance_id, (g - 1) % 4 AS seq,
                       ((g + 3) / 4) % 10 < 4 AND (g - 1) % 4 = 3 AS open,
                       1 + abs(hashtext('step' || g)) % 8 AS step,
                       date_trunc('day', :now AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
                           + ((abs(hashtext('due' || g)) % 60 - 15) * interval '1 day') AS open_due
                FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS g
            )
            INSERT INTO human_tasks (id, instance_id, spiff_task_id, process_key, business_key, element_id, name,
                role, district, street, community, assignee, status, created_at, completed_at, completed_by, due_at,
                remind_at, reminded_at, escalated_at, escalation_level, escalate_to, overdue_at, next_escalation_at,
                paused_working_days)
            SELECT t.id, t.instance_id, md5(t.id::text)::uuid::text, 'dibao', 'case:' || t.instance_id,
                   ({element_ids})[t.step], ({names})[t.step], ({roles})[t.step], '示范区',
                   ({streets})[1 + t.instance_id % 20], '社区' || (t.instance_id % 60),
                   CASE WHEN t.id % 3 = 0 THEN 'bench_user_' || (t.id % 40) END,
                   CASE WHEN t.open THEN 'open' ELSE 'completed' END,
                   CASE WHEN t.open THEN t.open_due - ((14) * interval '1 day')
                        ELSE :now - ((400 - t.id % 380) * interval '1 day') END,
                   CASE WHEN t.open THEN NULL ELSE :now - ((398 - t.id % 380) * interval '1 day') END,
                   CASE WHEN t.open THEN NULL ELSE 'bench_user_' || (t.id % 40) END,
                   CASE WHEN t.open THEN t.open_due WHEN t.id % 2 = 0
                        THEN :now - ((390 - t.id % 380) * interval '1 day') END,
                   CASE WHEN t.open THEN t.open_due - ((1) * interval '1 day') END,
                   CASE WHEN t.open AND t.open_due - ((1) * interval '1 day') <= :now
                        THEN t.open_due - ((1) * interval '1 day') END,
                   CASE WHEN t.open AND t.open_due <= :now THEN t.open_due END,
                   CASE WHEN t.open AND t.open_due <= :now
                        THEN LEAST(3, 1 + (EXTRACT(EPOCH FROM :now - t.open_due) / 86400 / 3)::int) ELSE 0 END,
                   CASE WHEN t.open AND t.open_due <= :now THEN 'street_reviewer' END,
                   CASE WHEN t.open AND t.open_due <= :now THEN t.open_due END,
                   CASE WHEN t.open THEN t.open_due END,
                   0
            FROM t
        """), {"now": NOW, "low": low, "high": high})
        print(f"   tasks {high:,}/{tasks:,}", flush=True)
    conn.execute(text("""
        INSERT INTO task_deadline_events (task_id, instance_id, kind, level, at, actor, target_role, district,
            street, due_at)
        SELECT h.id, h.instance_id,
               (ARRAY['reminder', 'overdue', 'escalated', 'urged'])[1 + h.id % 4], 1,
               :now - (((h.id * 37) % (56 * 24)) * interval '1 hour'), 'system', 'street_reviewer', h.district,
               h.street, h.due_at
        FROM human_tasks h WHERE h.id % 7 = 0
    """), {"now": NOW})
    conn.execute(text("SELECT setval(pg_get_serial_sequence('human_tasks', 'id'), (SELECT max(id) FROM human_tasks))"))
    conn.execute(text("SELECT setval(pg_get_serial_sequence('process_instances', 'id'), "
                      "(SELECT max(id) FROM process_instances))"))
    print(f"   loaded in {time.perf_counter() - started:.1f} s", flush=True)


def _timed(call, repeat: int) -> tuple[float, float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]


def run() -> dict:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    tasks = int(os.environ.get("BENCH_OVERDUE_TASKS", "1000000"))
    repeat = int(os.environ.get("BENCH_REPEAT", "30"))
    if tasks % 4:
        raise SystemExit("BENCH_OVERDUE_TASKS must be a multiple of 4")
    if not url.startswith("postgresql"):
        raise SystemExit("the overdue benchmark needs PostgreSQL (BENCH_DATABASE_URL)")
    ensure_database(url)

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "JIUZHU_CLOCK": "simulated",
                      "JIUZHU_CLOCK_START": NOW.isoformat(), "JIUZHU_ENV": "development"})
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade_database()
        seed(db.session)
        deploy_files(sorted(bpmn_dir().glob("*.bpmn")), echo=lambda *_: None)
        definition_id = db.session.scalar(text("SELECT min(id) FROM process_definitions WHERE key = 'dibao'"))
        assert definition_id, "dibao is not deployed"
        have = db.session.scalar(text("SELECT count(*) FROM human_tasks"))
        events = db.session.scalar(text("SELECT count(*) FROM task_deadline_events"))
        db.session.commit()
        if have != tasks or not events:
            print(f"   loading {tasks:,} tasks into {make_url(url).database} (once; later runs reuse them)", flush=True)
            with db.engine.begin() as conn:
                _load(conn, tasks, definition_id)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE human_tasks"))
                conn.execute(text("VACUUM ANALYZE process_instances"))
                conn.execute(text("VACUUM ANALYZE task_deadline_events"))
        else:
            print(f"   reusing {have:,} tasks in {make_url(url).database}", flush=True)
        counts = db.session.execute(text(
            "SELECT count(*) FILTER (WHERE status = 'open'), "
            "count(*) FILTER (WHERE status = 'open' AND due_at < :now AND paused_at IS NULL) FROM human_tasks"),
            {"now": NOW}).one()
        total_tasks = db.session.scalar(text("SELECT count(*) FROM human_tasks"))
        plan = db.session.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) SELECT street, count(*), "
            "sum(CASE WHEN due_at < :now AND paused_at IS NULL THEN 1 ELSE 0 END) FROM human_tasks "
            "WHERE status = 'open' AND district = '示范区' GROUP BY street"), {"now": NOW}).scalars().all()
        db.session.remove()
    print(f"   {total_tasks:,} tasks, {counts[0]:,} open, {counts[1]:,} overdue at {NOW.isoformat()}", flush=True)
    scan = next((line.strip().lstrip("-> ").split("  (")[0] for line in plan if "Scan" in line), "?")
    execution = next((line.strip() for line in plan if line.startswith("Execution Time")), "?")
    print(f"   plan of the street report: {scan} — {execution}", flush=True)

    # The floor query: a bare COUNT(*) over the same table, through the same app and connection pool.
    def bare_count():
        with app.app_context():
            db.session.scalar(text("SELECT count(*) FROM human_tasks"))
            db.session.remove()

    floor_p50, floor_p95 = _timed(bare_count, repeat)
    print(f"   floor query SELECT count(*) FROM human_tasks ({total_tasks:,} rows): p50 {floor_p50:.1f} ms, "
          f"p95 {floor_p95:.1f} ms; each report below is also given as a multiple of that p50", flush=True)
    figures: dict = {"tasks": total_tasks, "floor_count_p50_ms": floor_p50, "floor_count_p95_ms": floor_p95,
                     "reports": {}}
    client = app.test_client()

    def token(username: str) -> dict:
        response = client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
        return {"Authorization": f"Bearer {response.get_json()['token']}"}

    users = {"supervisor (district)": token("supervisor"), "jd_heping_lead (street)": token("jd_heping_lead")}
    calls = [("GET /reports/overdue?group_by=agency", "/api/v1/reports/overdue?group_by=agency"),
             ("GET /reports/overdue?group_by=street", "/api/v1/reports/overdue?group_by=street"),
             ("GET /reports/overdue?group_by=step", "/api/v1/reports/overdue?group_by=step"),
             ("GET /reports/overdue/tasks (first 50)", "/api/v1/reports/overdue/tasks?limit=50"),
             ("GET /reports/overdue/tasks?min_age=3", "/api/v1/reports/overdue/tasks?min_age=3&limit=50"),
             ("GET /reports/overdue/summary", "/api/v1/reports/overdue/summary")]
    for who, headers in users.items():
        print(f"   as {who}: p50 / p95 over {repeat} calls", flush=True)
        for label, path in calls:
            first = client.get(path, headers=headers)
            assert first.status_code == 200, first.get_data(as_text=True)[:300]
            p50, p95 = _timed(lambda path=path, headers=headers: client.get(path, headers=headers), repeat)
            body = first.get_json()
            extra = f"total overdue {body['total']['overdue']:,}" if "total" in body and isinstance(
                body["total"], dict) else (f"{body['total']:,} rows" if "total" in body else "")
            print(f"     {label:<40} {p50:7.1f} ms / {p95:7.1f} ms = {p50 / floor_p50:5.2f} × COUNT(*)   {extra}",
                  flush=True)
            figures["reports"][f"{who}: {label}"] = {"p50_ms": p50, "p95_ms": p95, "to_count": p50 / floor_p50}
    with client.application.app_context():
        sid = page_session_id("supervisor")
    with client.session_transaction() as session:
        session["sid"] = sid
    assert client.get("/dashboard/").status_code == 200
    p50, p95 = _timed(lambda: client.get("/dashboard/"), max(5, repeat // 3))
    print(f"   dashboard page (supervisor, 5 reports + top 10) {p50:7.1f} ms / {p95:7.1f} ms = "
          f"{p50 / floor_p50:.2f} × COUNT(*)", flush=True)
    figures["dashboard"] = {"p50_ms": p50, "p95_ms": p95, "to_count": p50 / floor_p50}
    return figures

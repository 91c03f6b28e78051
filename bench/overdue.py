"""The supervisor's overdue reports at 1,000,000 tasks in PostgreSQL (issue: deadlines that act, item 4).

Loads (once; later runs reuse it) 250,000 process instances with 4 tasks each into BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench, created if missing), all in the demo district 示范区 so
the district supervisor's reports cover every row: 20 streets, 8 steps, 40% of instances running with one open task
each (100,000 open tasks, about a quarter of them overdue by 1–15 days), 900,000 completed tasks, ~140,000 deadline
events over the last eight weeks. Then times the API as the `supervisor` (whole district) and a street reviewer
(one street), through the Flask app in this process: p50 / p95 over BENCH_REPEAT (default 30) calls after warm-up,
for `GET /reports/overdue?group_by=agency|street|step`, the overdue list (first page, and 3+ working days old),
the summary (ageing + trend) and the dashboard page; plus the plan PostgreSQL uses for the report. Then the staff
inbox (issue 12, item 3), timed the same way: `GET /tasks` (todo / mine / group / all, a later page, 已办) as the
street reviewer, the district supervisor and the 区教委 officer (`jiaowei`), and the inbox page; plus the plan of the
street reviewer's 待办. The inbox's visibility ORs in 代理 and 会签, so the load has some of both: 4% of the
instances are a member agency's work (role agency_officer), the street reviewer stands in for one colleague and
signs (会签) 700 tasks (200 open), and other users sign some more.

BENCH_OVERDUE_TASKS changes the size (a multiple of 4). The data is synthetic but has the projection's real shape
and indexes (the app's own Alembic migrations create the schema). A load is reused only if it has the size asked for
and was made by this version of the loader (DATA_VERSION, kept as the comment on table human_tasks).
"""
from __future__ import annotations

import logging
import os
import statistics
import time
from datetime import datetime

from sqlalchemy import and_, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from bench.floors import ensure_database
from engine.models import HumanTask
from web.app import create_app
from web.auth import page_session_id
from web.cli import bpmn_dir, deploy_files, upgrade_database
from web.extensions import db
from workflows.agencies import DEMO_AGENCIES
from workflows.demo import seed
from workflows.models import User
from workflows.tasks.inbox import by_due, task_conditions

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
# Member agencies' own work (not 区民政局, whose staff are the street and district roles).
AGENCY_NAMES = [a for a in DEMO_AGENCIES if a != "区民政局"]
# Bump when the loader changes what it writes: an older load is then reloaded, not reused.
DATA_VERSION = "overdue-bench v2: agency tasks, substitutes, signers"
# bench_user_8 holds 8,333 open tasks (a heavy desk: its tasks are ids 48 mod 120, all of running instances).
REVIEWER, AGENCY_USER, ABSENT = "jd_heping_lead", "jiaowei", "bench_user_8"


def _values(items: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"


def _load(conn, tasks: int, definition_id: int) -> None:
    instances = tasks // 4
    conn.execute(text("TRUNCATE task_deadline_events, task_signers, substitutes, human_tasks, audit_entries, "
                      "outbox_events, process_instances RESTART IDENTITY CASCADE"))
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
    # Instances with id % 25 = 1 (4%) are a member agency's (agency_officer, one of seven agencies by turn). A third
    # of the tasks are assigned, and every closed one was closed by someone: 和平街道's 街道审核 tasks by/to the
    # street reviewer, 区教委's by/to its officer, the rest by/to bench_user_0 … 39.
    agencies = _values(AGENCY_NAMES)
    for low in range(1, tasks + 1, CHUNK):
        high = min(low + CHUNK - 1, tasks)
        conn.execute(text(f"""
            WITH t AS (
                SELECT g AS id, (g + 3) / 4 AS instance_id, (g - 1) % 4 AS seq,
                       ((g + 3) / 4) % 10 < 4 AND (g - 1) % 4 = 3 AS open,
                       1 + abs(hashtext('step' || g)) % 8 AS step,
                       date_trunc('day', :now AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
                           + ((abs(hashtext('due' || g)) % 60 - 15) * interval '1 day') AS open_due,
                       CASE WHEN ((g + 3) / 4) % 25 = 1
                            THEN ({agencies})[1 + ((g + 3) / 4 / 25) % {len(AGENCY_NAMES)}] END AS agency
                FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS g
            ), u AS (
                SELECT t.*, CASE WHEN t.agency IS NOT NULL THEN 'agency_officer' ELSE ({roles})[t.step] END AS role,
                       ({streets})[1 + t.instance_id % 20] AS street
                FROM t
            )
            INSERT INTO human_tasks (id, instance_id, spiff_task_id, process_key, business_key, element_id, name,
                role, agency, district, street, community, assignee, status, created_at, completed_at, completed_by, due_at,
                remind_at, reminded_at, escalated_at, escalation_level, escalate_to, overdue_at, next_escalation_at,
                paused_working_days)
            SELECT t.id, t.instance_id, md5(t.id::text)::uuid::text, 'dibao', 'case:' || t.instance_id,
                   CASE WHEN t.agency IS NOT NULL THEN 'agency_handle' ELSE ({element_ids})[t.step] END,
                   CASE WHEN t.agency IS NOT NULL THEN '成员单位办理' ELSE ({names})[t.step] END,
                   t.role, t.agency, '示范区', t.street, '社区' || (t.instance_id % 60),
                   CASE WHEN t.id % 3 <> 0 THEN NULL
                        WHEN t.street = '和平街道' AND t.role = 'street_reviewer' THEN '{REVIEWER}'
                        WHEN t.agency = '区教委' THEN '{AGENCY_USER}'
                        ELSE 'bench_user_' || (t.id % 40) END,
                   CASE WHEN t.open THEN 'open' ELSE 'completed' END,
                   CASE WHEN t.open THEN t.open_due - ((14) * interval '1 day')
                        ELSE :now - ((400 - t.id % 380) * interval '1 day') END,
                   CASE WHEN t.open THEN NULL ELSE :now - ((398 - t.id % 380) * interval '1 day') END,
                   CASE WHEN t.open THEN NULL
                        WHEN t.street = '和平街道' AND t.role = 'street_reviewer' THEN '{REVIEWER}'
                        WHEN t.agency = '区教委' THEN '{AGENCY_USER}'
                        ELSE 'bench_user_' || (t.id % 40) END,
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
            FROM u AS t
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
    # 会签: one task in 500 has a signer: the street reviewer on 700 of them (the 200 with id % 5000 = 0 are open and
    # wait for them), bench users on the rest; a signature on a closed task is given (agreed), on an open one asked
    # and pending.
    conn.execute(text("""
        INSERT INTO task_signers (task_id, username, position, phase, mode, status, asked_at, acted_at, added_by,
            created_at)
        SELECT h.id, CASE WHEN h.id % 5000 = 0 OR h.id % 2000 = 500 THEN :reviewer ELSE 'bench_user_' || ((h.id / 500) % 40) END, 1,
               'countersign', 'all', CASE WHEN h.status = 'open' THEN 'pending' ELSE 'agreed' END, h.created_at,
               h.completed_at, NULL, h.created_at
        FROM human_tasks h WHERE h.id % 500 = 0
    """), {"reviewer": REVIEWER})
    conn.execute(text("UPDATE human_tasks SET has_signers = true WHERE id IN (SELECT task_id FROM task_signers)"))
    # 代理: the street reviewer stands in for one colleague now; 40 more arrangements between other users ended.
    conn.execute(text("""
        INSERT INTO substitutes (username, substitute, starts_at, ends_at, created_at)
        VALUES (:absent, :reviewer, :now - interval '2 days', :now + interval '5 days', :now - interval '3 days')
    """), {"absent": ABSENT, "reviewer": REVIEWER, "now": NOW})
    conn.execute(text("""
        INSERT INTO substitutes (username, substitute, starts_at, ends_at, created_at)
        SELECT 'bench_user_' || g, 'bench_user_' || ((g + 1) % 40), :now - ((30 + g) * interval '1 day'),
               :now - ((20 + g) * interval '1 day'), :now - ((31 + g) * interval '1 day')
        FROM generate_series(0, 39) AS g
    """), {"now": NOW})
    conn.execute(text(f"COMMENT ON TABLE human_tasks IS '{DATA_VERSION}'"))
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
        version = db.session.scalar(text("SELECT obj_description('human_tasks'::regclass, 'pg_class')"))
        db.session.commit()
        if have != tasks or not events or version != DATA_VERSION:
            print(f"   loading {tasks:,} tasks into {make_url(url).database} (once; later runs reuse them)", flush=True)
            with db.engine.begin() as conn:
                _load(conn, tasks, definition_id)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE human_tasks"))
                conn.execute(text("VACUUM ANALYZE process_instances"))
                conn.execute(text("VACUUM ANALYZE task_deadline_events"))
                conn.execute(text("VACUUM ANALYZE task_signers"))
                conn.execute(text("VACUUM ANALYZE substitutes"))
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
    # Tokens before the dashboard below puts a page session on this client (a POST with it would need a CSRF token).
    inbox_users = {who: token(username) for who, username in INBOX_USERS.items()}
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
    figures["inbox"] = _inbox(app, client, inbox_users, repeat, floor_p50)
    return figures


# The staff inbox, `GET /tasks` as web.api.tasks serves it (default limit 100, sorted by due time). The views are
# workflows.tasks.inbox's: todo = the page's 待办 (mine + my group's claimable), mine (incl. 代理 and 会签), group
# (claimable), all (everything I may see), then a later page of `all` and my 已办.
INBOX_CALLS = [("todo", "/api/v1/tasks?view=todo"), ("mine", "/api/v1/tasks?view=mine"),
               ("group (claimable)", "/api/v1/tasks?view=group"), ("all", "/api/v1/tasks?view=all"),
               ("all, page 11 of 50", "/api/v1/tasks?view=all&limit=50&offset=500"),
               ("all, overdue", "/api/v1/tasks?view=all&overdue=true"),
               ("mine, done (已办)", "/api/v1/tasks?view=mine&status=done")]
INBOX_USERS = {f"{REVIEWER} (street reviewer, 和平街道)": REVIEWER, "supervisor (district)": "supervisor",
               f"{AGENCY_USER} (agency officer, 区教委)": AGENCY_USER}


def _inbox(app, client, users: dict, repeat: int, floor_p50: float) -> dict:
    figures: dict = {}
    with app.app_context():
        reviewer = db.session.scalar(select(User).where(User.username == REVIEWER))
        statement = (select(HumanTask).where(and_(*task_conditions(reviewer, view="todo", status="open")))
                     .order_by(*by_due()).limit(100))
        sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        plan = db.session.execute(text("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + sql)).scalars().all()
        db.session.remove()
    print(f"   plan of {REVIEWER}'s inbox (view=todo, first 100 by due time):", flush=True)
    for line in plan:
        print(f"     | {line}", flush=True)
    figures["plan_todo_street_reviewer"] = plan
    for who, headers in users.items():
        print(f"   inbox as {who}: GET /tasks, p50 / p95 over {repeat} calls", flush=True)
        for label, path in INBOX_CALLS:
            first = client.get(path, headers=headers)
            assert first.status_code == 200, first.get_data(as_text=True)[:300]
            rows = len(first.get_json()["items"])
            p50, p95 = _timed(lambda path=path, headers=headers: client.get(path, headers=headers), repeat)
            print(f"     {label:<40} {p50:7.1f} ms / {p95:7.1f} ms = {p50 / floor_p50:5.2f} × COUNT(*)   "
                  f"{rows} rows", flush=True)
            figures[f"{who}: GET /tasks {label}"] = {"p50_ms": p50, "p95_ms": p95, "to_count": p50 / floor_p50,
                                                     "rows": rows}
    # The inbox page also counts 待办 and 超期 and lists the steps, so it reads more than one page of rows.
    with client.application.app_context():
        sid = page_session_id(REVIEWER)
    with client.session_transaction() as session:
        session["sid"] = sid
    for tab in ("todo", "done"):
        assert client.get(f"/inbox?tab={tab}").status_code == 200
        p50, p95 = _timed(lambda tab=tab: client.get(f"/inbox?tab={tab}"), max(5, repeat // 3))
        print(f"   inbox page ({REVIEWER}, tab={tab}, counts + steps + 20 rows) {p50:7.1f} ms / {p95:7.1f} ms = "
              f"{p50 / floor_p50:.2f} × COUNT(*)", flush=True)
        figures[f"{REVIEWER}: inbox page tab={tab}"] = {"p50_ms": p50, "p95_ms": p95, "to_count": p50 / floor_p50}
    return figures

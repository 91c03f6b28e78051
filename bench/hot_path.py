"""What one `complete` costs, counted: SQL statements, commits and where the time goes (issue 12, item 2).

Runs the app in this process against PostgreSQL (BENCH_HOT_PATH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_hp, emptied each run), deploys the three-step approval,
and completes tasks through the Flask test client with a bearer token — the same request, views, service, engine
and database as over HTTP, minus gunicorn's socket. SQLAlchemy event listeners *here, in the benchmark* (never in
the app) count every statement and commit of each `complete` request; cProfile shows the cumulative time per layer.

BENCH_HOT_PATH_STEPS (default 300) is the number of completions counted; BENCH_PROFILE=1 prints the profile.
"""
from __future__ import annotations

import cProfile
import io
import logging
import os
import pstats
import statistics
import tempfile
import time
from collections import Counter

from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench.floors import fresh_database
from bench.samples import three_steps
from web.app import create_app
from web.cli import upgrade_database
from web.extensions import db
from workflows.demo import seed

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_hp"


class StatementCounter:
    """Counts statements and commits on an SQLAlchemy engine while `active`; remembers the last request's SQL."""

    def __init__(self, engine):
        self.active = False
        self.statements = 0
        self.commits = 0
        self.last: list[str] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn, _cursor, statement, _params, _context, _many):
        if self.active:
            self.statements += 1
            self.last.append(" ".join(statement.split())[:110])

    def _commit(self, _conn):
        if self.active:
            self.commits += 1
            self.last.append("COMMIT")

    def start(self) -> None:
        self.active = True
        self.last = []

    def stop(self) -> None:
        self.active = False


def _app(url: str):
    instance = tempfile.mkdtemp(prefix="jiuzhu-bench-hp-")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "JIUZHU_CLOCK": "system",
                      "JIUZHU_ENV": "development"})
    app.instance_path = instance
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade_database()
        seed(db.session)
        db.session.commit()
    return app


def measure(url: str, steps: int, profile: bool = False) -> dict:
    """Statements and commits per `complete` (mean and the exact list of one), and per-request time in-process."""
    fresh_database(url)
    app = _app(url)
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "designer", "password": "demo"}).get_json()["token"]
    response = client.post("/api/v1/process-definitions", data=three_steps("bench_three_steps").encode(),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:300]
    token = client.post("/api/v1/auth/token", json={"username": "jd_heping", "password": "demo"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        counter = StatementCounter(db.engine)
    instances = max(1, steps // 3)
    firsts = []
    for _ in range(instances + 2):
        started = client.post("/api/v1/process-instances", json={"process_key": "bench_three_steps"}, headers=headers)
        assert started.status_code == 201, started.get_data(as_text=True)[:300]
        firsts.append(started.get_json()["tasks"][0]["id"])
    # Two warm-up instances (imports, spec cache, first connection); then count.
    per_step_statements: list[int] = []
    per_step_commits: list[int] = []
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    kinds: Counter[str] = Counter()
    one_step: list[str] = []
    profiler = cProfile.Profile() if profile else None
    for n, first in enumerate(firsts):
        task_id = first
        while task_id is not None:
            counting = n >= 2
            if counting:
                counter.statements = counter.commits = 0
                counter.start()
                if profiler:
                    profiler.enable()
            began, began_cpu = time.perf_counter(), time.process_time()
            answer = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"ok": True}}, headers=headers)
            elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
            if counting:
                if profiler:
                    profiler.disable()
                counter.stop()
                per_step_statements.append(counter.statements)
                per_step_commits.append(counter.commits)
                seconds.append(elapsed)
                cpu_seconds.append(cpu)
                kinds.update(s.split(" ")[0] for s in counter.last)
                if not one_step and answer.get_json()["next_tasks"]:
                    one_step = list(counter.last)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
            following = answer.get_json()["next_tasks"]
            task_id = following[0]["id"] if following else None
    result = {
        "steps": len(seconds),
        "statements_per_step": statistics.mean(per_step_statements),
        "commits_per_step": statistics.mean(per_step_commits),
        "statement_kinds_per_step": {k: v / len(seconds) for k, v in sorted(kinds.items())},
        "one_middle_step": one_step,
        "in_process_per_second": len(seconds) / sum(seconds),
        "in_process_p50_ms": statistics.median(seconds) * 1000,
        # CPU of this process alone (not PostgreSQL's): steadier than wall time on a shared machine.
        "app_cpu_ms_per_step": statistics.median(cpu_seconds) * 1000,
    }
    if profiler:
        stats = pstats.Stats(profiler, stream=io.StringIO())
        result["profile_by_layer_ms"] = by_layer(stats, len(seconds))
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(40)
        result["profile"] = out.getvalue()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return result


LAYERS = [  # (layer, path fragment of the code whose own time counts for it), first match wins
    ("SpiffWorkflow (restore, run, serialise)", "SpiffWorkflow"),
    ("SQLAlchemy", "sqlalchemy"),
    ("psycopg (driver, waiting on PostgreSQL)", "psycopg"),
    ("Flask / Werkzeug", "flask"), ("Flask / Werkzeug", "werkzeug"),
    ("marshmallow (body parsing)", "marshmallow"),
    ("json / zlib (state, bodies)", "json"), ("json / zlib (state, bodies)", "zlib"),
    ("logging", "logging"),
    ("jiuzhu engine/", "/engine/"), ("jiuzhu workflows/", "/workflows/"), ("jiuzhu web/", "/web/"),
]


def by_layer(stats: pstats.Stats, steps: int) -> dict[str, float]:
    """Own (not cumulative) profiled time per step, summed by library: where a `complete` spends its time."""
    totals: dict[str, float] = {}
    for (path, _line, name), (_cc, _nc, own, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{path}:{name}"
        layer = next((label for label, fragment in LAYERS if fragment in where), "other (Python, C built-ins)")
        if path == "~" and ("zlib" in name or "json" in name):
            layer = "json / zlib (state, bodies)"
        totals[layer] = totals.get(layer, 0.0) + own
    return {k: round(v / steps * 1000, 3) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def run() -> dict:
    url = os.environ.get("BENCH_HOT_PATH_DATABASE_URL", DEFAULT_URL)
    steps = int(os.environ.get("BENCH_HOT_PATH_STEPS", "300"))
    print(f"   database {make_url(url).render_as_string(hide_password=True)}; {steps} completions counted "
          "in-process (Flask test client, bearer token)", flush=True)
    r = measure(url, steps, profile=os.environ.get("BENCH_PROFILE") == "1")
    print(f"   per complete: {r['statements_per_step']:.1f} SQL statements, {r['commits_per_step']:.1f} commits "
          f"({', '.join(f'{k} {v:.1f}' for k, v in r['statement_kinds_per_step'].items())})", flush=True)
    print(f"   in-process (no HTTP socket): {r['in_process_per_second']:.0f} completions/s, "
          f"p50 {r['in_process_p50_ms']:.1f} ms; app CPU per complete (median) {r['app_cpu_ms_per_step']:.2f} ms",
          flush=True)
    print("   one middle step, in order:", flush=True)
    for line in r["one_middle_step"]:
        print(f"     {line}", flush=True)
    if "profile" in r:
        print("   profiled own time per complete, by layer (cProfile inflates Python-heavy layers):", flush=True)
        for layer, ms in r["profile_by_layer_ms"].items():
            print(f"     {layer:<42} {ms:6.2f} ms", flush=True)
        if os.environ.get("BENCH_PROFILE_FULL") == "1":
            print(r["profile"], flush=True)
    return {k: v for k, v in r.items() if k != "profile"}

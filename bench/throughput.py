"""Task-completion throughput through the HTTP API (issue: the spine, item 7).

Deploys a three-step approval (start → A → B → C → end, no lanes), then clients start instances and complete their
three tasks over HTTP against `jiuzhu`'s production server (gunicorn, 2 processes) on PostgreSQL. Prints task
completions per second, p50/p95 latency of `complete`, and stored bytes per instance, for 1 and 4 clients.

BENCH_THROUGHPUT_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_tp) is emptied
first; it is not BENCH_DATABASE_URL, which holds bench/overdue.py's million tasks loaded once.
BENCH_INSTANCES (default 600) is the number of instances per run, split among the clients; each run starts them
all first (timed as starts/s), then completes their 3 tasks each (timed as completions/s; latency of `complete`).
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.samples import three_steps

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_tp"


def _fresh_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One client with a persistent HTTP/1.1 connection (as browsers and agency systems keep theirs)."""

    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.token = token
        self._conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body=None, raw: bytes | None = None, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect once.
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self._conn.close()
                self._conn = None
            return response.status, (json.loads(data) if data else None)
        raise RuntimeError("unreachable")


def _login(port: int, username: str) -> Client:
    status, body = Client(port).call("POST", "/api/v1/auth/token", {"username": username, "password": "demo"})
    assert status == 200, body
    return Client(port, body["token"])


def _start_many(client: Client, count: int, firsts: list[dict], errors: list[str]) -> None:
    for _ in range(count):
        status, body = client.call("POST", "/api/v1/process-instances", {"process_key": "bench_three_steps"})
        if status != 201:
            errors.append(f"start {status} {body}")
            continue
        firsts.append(body["tasks"][0])


def _complete_all(client: Client, firsts: list[dict], latencies: list[float], counts: list[int],
                  errors: list[str]) -> None:
    completed = 0
    for task in firsts:
        while task is not None:
            started = time.perf_counter()
            status, body = client.call("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": {"ok": True}})
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"complete {status} {body}")
                break
            completed += 1
            task = body["next_tasks"][0] if body["next_tasks"] else None
    counts.append(completed)


def _parallel(targets) -> float:
    threads = [threading.Thread(target=fn, args=args) for fn, args in targets]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def _measure(port: int, clients: int, instances_per_client: int) -> dict:
    """Phase 1: each client starts its instances; phase 2: each client completes their three tasks each."""
    users = ["jd_heping", "jd_anding", "jd_heping_lead", "jd_anding_lead"]
    logged_in = [_login(port, users[i % len(users)]) for i in range(clients)]
    errors: list[str] = []
    firsts: list[list[dict]] = [[] for _ in logged_in]
    start_seconds = _parallel([(_start_many, (c, instances_per_client, firsts[i], errors))
                               for i, c in enumerate(logged_in)])
    latencies: list[float] = []
    counts: list[int] = []
    complete_seconds = _parallel([(_complete_all, (c, firsts[i], latencies, counts, errors))
                                  for i, c in enumerate(logged_in)])
    latencies.sort()
    started = sum(len(f) for f in firsts)
    return {
        "clients": clients,
        "starts_per_second": started / start_seconds,
        "completions": sum(counts),
        "per_second": sum(counts) / complete_seconds,
        "end_to_end_per_second": sum(counts) / (start_seconds + complete_seconds),
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else None,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def run() -> None:
    url = os.environ.get("BENCH_THROUGHPUT_DATABASE_URL", DEFAULT_URL)
    instances = int(os.environ.get("BENCH_INSTANCES", "600"))
    print(f"   database {make_url(url).render_as_string(hide_password=True)}, {instances} instances per run, "
          f"{os.cpu_count()} cores, gunicorn with 2 worker processes", flush=True)
    _fresh_database(url)
    instance = tempfile.mkdtemp(prefix="jiuzhu-bench-")
    env = dict(os.environ, DATABASE_URL=url, JIUZHU_INSTANCE_PATH=instance, JIUZHU_ENV="development",
               SECRET_KEY="bench-secret", JIUZHU_CLOCK="system")
    jiuzhu = [sys.executable, "-m", "web.cli"]
    subprocess.run(jiuzhu + ["db", "upgrade", "heads"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(jiuzhu + ["demo"], env=env, cwd=ROOT, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:web.gunicorn_conf", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "web.wsgi:app"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if Client(port).call("GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        designer = _login(port, "designer")
        status, body = designer.call("POST", "/api/v1/process-definitions",
                                     raw=three_steps("bench_three_steps").encode(), content_type="application/xml")
        assert status in (200, 201), body
        _measure(port, 2, 30)  # warm-up: imports, spec caches, connection pools
        for clients in (1, 4):
            r = _measure(port, clients, instances // clients)
            print(f"   {clients} client(s): {r['per_second']:.0f} task completions/s, complete p50 "
                  f"{r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms ({r['completions']} completions); "
                  f"starts {r['starts_per_second']:.0f}/s; start+complete end to end "
                  f"{r['end_to_end_per_second']:.0f} completions/s; {r['errors']} errors"
                  f"{'; ' + r['first_error'] if r['errors'] else ''}", flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            n, state_bytes = conn.execute(text(
                "SELECT count(*), avg(octet_length(state)) FROM process_instances")).one()
            table = conn.execute(text("SELECT pg_total_relation_size('process_instances')")).scalar()
            tasks = conn.execute(text("SELECT pg_total_relation_size('human_tasks'), count(*) FROM human_tasks")).one()
            spec = conn.execute(text(
                "SELECT octet_length(spec_json) FROM process_definitions WHERE key='bench_three_steps'")).scalar()
        engine.dispose()
        print(f"   stored per instance: state {state_bytes:.0f} B (compressed, without spec); "
              f"process_instances table incl. indexes {table / n:.0f} B/instance; "
              f"human_tasks {tasks[0] / max(n, 1):.0f} B/instance ({tasks[1] / max(n, 1):.1f} task rows); "
              f"spec stored once: {spec} B; {n} instances")
    finally:
        server.terminate()
        server.wait(timeout=20)

"""Task-completion throughput through the HTTP API, beside the floors of the same run (issue 12, items 1 and 2).

Deploys a three-step approval (start → A → B → C → end, no lanes), then clients start instances and complete their
three tasks over HTTP against the server *as users start it*: `jiuzhu serve` (gunicorn, 2 processes, access log
on — written to a file — and the in-process background worker on) on PostgreSQL. Prints task completions per
second and p50/p95 of `complete` for 1 and 4 clients, each as a ratio to the in-process SpiffWorkflow floor and to
one PostgreSQL commit (bench/floors.py), and the stored bytes per instance.

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

from bench.floors import floors, fresh_database, latency_ratio, rate_ratio
from bench.samples import three_steps

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_tp"


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


def _repeat(client: Client, method: str, path: str, body, count: int, latencies: list[float],
            errors: list[str]) -> None:
    for _ in range(count):
        began = time.perf_counter()
        status, answer = client.call(method, path, body)
        latencies.append(time.perf_counter() - began)
        if status not in (200, 201):
            errors.append(f"{method} {path} {status} {answer}")


def server_floors(port: int, clients: int, requests_per_client: int) -> dict:
    """What the same server does with nothing behind it, with the same clients: `GET /health` (routing, one
    `SELECT 1`, the JSON answer, the access log; no login) and an authenticated one-row write, `POST
    /tasks/{id}/comments` (token check, the task read and its authorisation, one INSERT, one COMMIT). A `complete`
    does all of the second and the engine step on top, so these bound what any `complete` can reach here."""
    users = ["jd_heping", "jd_anding", "jd_heping_lead", "jd_anding_lead"]
    logged_in = [_login(port, users[i % len(users)]) for i in range(clients)]
    task_ids = []
    for c in logged_in:
        status, body = c.call("POST", "/api/v1/process-instances", {"process_key": "bench_three_steps"})
        assert status == 201, body
        task_ids.append(body["tasks"][0]["id"])
    figures = {}
    for name, method, path_of, body in (
            ("health", "GET", lambda _i: "/health", None),
            ("comment", "POST", lambda i: f"/api/v1/tasks/{task_ids[i]}/comments", {"text": "压测"})):
        latencies: list[float] = []
        errors: list[str] = []
        seconds = _parallel([(_repeat, (c, method, path_of(i), body, requests_per_client, latencies, errors))
                             for i, c in enumerate(logged_in)])
        latencies.sort()
        figures[name] = {"per_second": len(latencies) / seconds, "p50_ms": statistics.median(latencies) * 1000,
                         "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000, "errors": len(errors),
                         "first_error": errors[0] if errors else None}
    return figures


def serve(url: str, port: int, log_path: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """`jiuzhu serve --port PORT --workers 2` on `url` (migrates, deploys the catalog, writes the demo data), its
    output — gunicorn's access log among it — going to `log_path`; returns once /health answers."""
    instance = tempfile.mkdtemp(prefix="jiuzhu-bench-")
    env = dict(os.environ, DATABASE_URL=url, JIUZHU_INSTANCE_PATH=instance, JIUZHU_ENV="development",
               SECRET_KEY="bench-secret", JIUZHU_CLOCK="system")
    env.update(extra_env or {})
    log = log_path.open("wb")
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240  # the first start migrates and simulates the 38 demo cases
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jiuzhu serve exited with {server.returncode}; see {log_path}")
        try:
            if Client(port).call("GET", "/health")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise RuntimeError(f"jiuzhu serve did not answer /health in time; see {log_path}")


def stop(server: subprocess.Popen) -> None:
    server.terminate()  # `jiuzhu serve` passes SIGTERM on to gunicorn and stops its worker
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run() -> dict:
    url = os.environ.get("BENCH_THROUGHPUT_DATABASE_URL", DEFAULT_URL)
    instances = int(os.environ.get("BENCH_INSTANCES", "600"))
    f = floors()
    print(f"   database {make_url(url).render_as_string(hide_password=True)}, {instances} instances per run, "
          f"{os.cpu_count()} cores, `jiuzhu serve` (gunicorn, 2 processes, access log, in-process worker)",
          flush=True)
    fresh_database(url)
    port = _free_port()
    log_path = Path(tempfile.mkdtemp(prefix="jiuzhu-bench-log-")) / "serve.log"
    server = serve(url, port, log_path)
    results: dict = {"runs": []}
    try:
        designer = _login(port, "designer")
        status, body = designer.call("POST", "/api/v1/process-definitions",
                                     raw=three_steps("bench_three_steps").encode(), content_type="application/xml")
        assert status in (200, 201), body
        _measure(port, 2, 30)  # warm-up: imports, spec caches, connection pools
        for clients in (1, 4):
            r = _measure(port, clients, instances // clients)
            r["ratio_to_spiff_floor"] = r["per_second"] / f.spiff_per_second
            r["p95_to_pg_commit"] = r["p95_ms"] / f.pg_commit_ms
            results["runs"].append(r)
            print(f"   HTTP {clients} client(s): {rate_ratio(r['per_second'], f.spiff_per_second)}; "
                  f"complete p50 {r['p50_ms']:.1f} ms, {latency_ratio('p95', r['p95_ms'], f.pg_commit_ms)} "
                  f"({r['completions']} completions, {r['errors']} errors"
                  f"{'; ' + r['first_error'] if r['errors'] else ''})", flush=True)
            print(f"     starts {r['starts_per_second']:.0f}/s; start+complete end to end "
                  f"{r['end_to_end_per_second']:.0f} completions/s", flush=True)
            # The server's own floor with the same clients: how far a `complete` is from a request doing nothing.
            sf = server_floors(port, clients, max(50, instances // clients))
            r["server_floors"] = sf
            for name, label in (("health", "GET /health (no login, SELECT 1)"),
                                ("comment", "POST comment (login, task read, 1 INSERT + COMMIT)")):
                one = sf[name]
                print(f"     same server, {label}: {rate_ratio(one['per_second'], f.spiff_per_second)}; "
                      f"p95 {one['p95_ms']:.1f} ms; complete = {r['per_second'] / one['per_second']:.2f} × it"
                      f"{' (' + str(one['errors']) + ' errors: ' + str(one['first_error']) + ')' if one['errors'] else ''}",
                      flush=True)
        access_lines = sum(1 for line in log_path.open("rb") if b'"POST /api/v1/tasks/' in line)
        results["access_log_lines_for_complete"] = access_lines
        engine = create_engine(url)
        with engine.connect() as conn:
            n, state_bytes = conn.execute(text(
                "SELECT count(*), avg(octet_length(state)) FROM process_instances "
                "WHERE process_key = 'bench_three_steps'")).one()
            spec = conn.execute(text(
                "SELECT octet_length(spec_json) FROM process_definitions WHERE key='bench_three_steps'")).scalar()
        engine.dispose()
        results.update(stored_state_bytes=state_bytes, spec_bytes=spec, instances=n)
        print(f"   access log: {access_lines} complete requests logged; stored per instance: state "
              f"{state_bytes:.0f} B (compressed, without spec; spec stored once: {spec} B); {n} instances",
              flush=True)
    finally:
        stop(server)
    return results

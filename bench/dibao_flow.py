"""The real flow, measured: 低保 cases end to end through the HTTP API on PostgreSQL (issue 12, item 3).

`jiuzhu serve` (gunicorn, 2 processes, access log, in-process worker) on a simulated clock, in its own database
(BENCH_DIBAO_DATABASE_URL, default jiuzhu_bench_flow, emptied each run). BENCH_DIBAO_CASES cases (default 40) are
worked by BENCH_DIBAO_CLIENTS parallel clients (default 4), each step as a person does it — open the inbox, claim,
complete with the form's valid data (bench/dibao_cases.py) — plus the verification centre's economic-check message:
through the street to the notice (公示). Then the admin advances the clock past the 7-day notice: the answer comes
after the due sweeps have fired every notice timer. Then the district: 入户抽查 if selected, 审批, 发放设置.

Prints cases per second (street part + district part, excluding the clock jump) as a ratio to the in-process floor
expressed in cases (floor completions/s ÷ the human steps of a case), and p50/p95 per step, each p95 also as a
multiple of one PostgreSQL commit.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.dibao_cases import Case, Timings, advance_clock, logins
from bench.floors import floors, fresh_database, latency_ratio
from bench.throughput import Client, _free_port, serve, stop

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_flow"
CLOCK_START = "2026-03-02T09:00:00+08:00"  # a Monday
STREETS = ["和平街道", "安定街道"]


def _parallel(work, cases_per_client: list[list]) -> float:
    errors: list[str] = []

    def one(items):
        try:
            work(items)
        except Exception as exc:  # noqa: BLE001 - reported below, after the other clients finish
            errors.append(repr(exc))

    threads = [threading.Thread(target=one, args=(items,)) for items in cases_per_client]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]}")
    return time.perf_counter() - started


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, int(round(q * len(ordered))) - 1))] * 1000


def run() -> dict:
    url = os.environ.get("BENCH_DIBAO_DATABASE_URL", DEFAULT_URL)
    count = int(os.environ.get("BENCH_DIBAO_CASES", "40"))
    clients = int(os.environ.get("BENCH_DIBAO_CLIENTS", "4"))
    f = floors()
    print(f"   database {make_url(url).render_as_string(hide_password=True)}; {count} cases by {clients} clients; "
          "`jiuzhu serve` (gunicorn, 2 processes, access log, in-process worker), simulated clock", flush=True)
    fresh_database(url)
    port = _free_port()
    log_path = Path(tempfile.mkdtemp(prefix="jiuzhu-bench-log-")) / "serve.log"
    server = serve(url, port, log_path, {"JIUZHU_CLOCK": "simulated", "JIUZHU_CLOCK_START": CLOCK_START})
    timings: Timings = {}
    lock = threading.Lock()
    try:
        per_client: list[list] = [[] for _ in range(clients)]
        apis = [logins(lambda token: Client(port, token)) for _ in range(clients)]

        def street(i: int):
            def work(items):
                for n in range(i, count, clients):
                    case = Case(apis[i], STREETS[n % 2], timings, lock)
                    case.through_street()
                    items.append(case)
            return work

        threads_work = [street(i) for i in range(clients)]
        # One thread per client, each its own connection and tokens.
        errors: list[str] = []

        def runner(i):
            try:
                threads_work[i](per_client[i])
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))

        threads = [threading.Thread(target=runner, args=(i,)) for i in range(clients)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        street_seconds = time.perf_counter() - began
        if errors:
            raise RuntimeError(f"street part failed: {errors[0]}")
        began = time.perf_counter()
        answer = advance_clock(apis[0], "P8D")
        jump_seconds = time.perf_counter() - began
        fired = answer["sweeps"].get("timers")
        cases = [c for items in per_client for c in items]
        by_client = [[c for c in cases if c.id % clients == i] for i in range(clients)]
        for i, items in enumerate(by_client):  # a case's district steps by the client that holds it now
            for c in items:
                c.api = apis[i]
        district_seconds = _parallel(lambda items: [c.through_district() for c in items], by_client)
        statuses = {c.status() for c in cases}
    finally:
        stop(server)
    human_steps = {k: v for k, v in timings.items() if k not in ("inbox", "claim", "case", "apply")}
    completes = sum(len(v) for k, v in human_steps.items() if k != "economic_check")
    steps_per_case = completes / len(cases)
    per_second = len(cases) / (street_seconds + district_seconds)
    calls = sum(len(v) for k, v in timings.items() if k != "case")
    floor_cases = f.spiff_per_second / steps_per_case
    print(f"   {len(cases)} cases end to end in {street_seconds + district_seconds:.1f} s (+ clock jump with the "
          f"sweeps {jump_seconds:.1f} s, {fired} notice timers fired); final statuses {sorted(statuses)}", flush=True)
    print(f"   {per_second:.2f} cases/s = {per_second / floor_cases:.3f} × in-process floor in cases "
          f"({floor_cases:.0f} cases/s = {f.spiff_per_second:.0f} completions/s ÷ {steps_per_case:.1f} human steps "
          f"of a case); all API calls (inbox reads and claims too) {calls / (street_seconds + district_seconds):.0f}/s",
          flush=True)
    print("   per step: p50 / p95 (n)", flush=True)
    table = {}
    for label, samples in timings.items():
        p50, p95 = statistics.median(samples) * 1000, _p(samples, 0.95)
        table[label] = {"n": len(samples), "p50_ms": p50, "p95_ms": p95, "p95_to_pg_commit": p95 / f.pg_commit_ms}
        print(f"     {label:<18} {p50:6.1f} ms / {latency_ratio('', p95, f.pg_commit_ms).strip():<34} "
              f"({len(samples)})", flush=True)
    return {"cases": len(cases), "clients": clients, "cases_per_second": per_second,
            "ratio_to_spiff_floor_in_cases": per_second / floor_cases, "human_steps_per_case": steps_per_case,
            "street_seconds": street_seconds, "district_seconds": district_seconds,
            "clock_jump_seconds": jump_seconds, "notice_timers_fired": fired, "steps": table,
            "final_statuses": sorted(statuses)}

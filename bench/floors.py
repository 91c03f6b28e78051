"""The yardsticks every figure is printed beside, measured in the same run (issue 12, item 1).

A shared machine's speed varies run to run, so a bare "83 completions/s" says little; "0.19 × what SpiffWorkflow
alone does on this machine right now" says how much the system adds. Two floors:

* **in-process floor** — the same diagram stepped by SpiffWorkflow alone, one core, no database, no HTTP: per task
  the stored state is deserialised, the task completed and the engine run, the state serialised again — with the
  engine's own parser (`engine.definitions.compile_bpmn`) and serializer (`engine.serialization`);
* **PostgreSQL commit floor** — single-row INSERT + COMMIT transactions through the same driver (psycopg 3) over
  TCP to the same server, one connection (the latency of one durable commit) and four (commits per second).

`ratio_line` formats a result beside them; `write_results` stores a run's figures as JSON in bench/results/.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.samples import three_steps
from engine.definitions import compile_bpmn
from engine.serialization import dump_state, load_state

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_FLOOR_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jiuzhu_bench_floor"


def ensure_database(url: str) -> None:
    """Create the database of `url` if it does not exist (never one named postgres, test or nothing): for data
    loaded once and reused across runs."""
    parsed = make_url(url)
    if parsed.database in (None, "", "test", "postgres"):
        raise SystemExit(f"refusing to load a benchmark into database {parsed.database!r}")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
            print(f"   created database {parsed.database}", flush=True)
    admin.dispose()


def fresh_database(url: str) -> None:
    """Drop and create the database of `url` (never one named postgres, test or nothing)."""
    parsed = make_url(url)
    if parsed.database in (None, "", "test", "postgres"):
        raise SystemExit(f"refusing to empty database {parsed.database!r}")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


# -- in-process SpiffWorkflow floor -------------------------------------------------------------------------------
def spiff_floor(xml: str | None = None, *, instances: int = 150, seconds: float | None = None) -> float:
    """User-task completions per second by SpiffWorkflow alone: per task load_state → complete → run → dump_state.

    Runs `instances` instances to their end (or until `seconds` have passed, whichever is first)."""
    definition = compile_bpmn(xml or three_steps("floor_three_steps"))
    spec, subs = definition.spec, definition.subprocess_specs
    completed = 0
    started = time.perf_counter()
    for _ in range(instances):
        workflow = BpmnWorkflow(spec, subs)
        workflow.do_engine_steps()
        state = dump_state(workflow)
        while True:
            workflow = load_state(state, spec, subs)
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            ready[0].set_data(ok=True)
            ready[0].run()
            workflow.do_engine_steps()
            state = dump_state(workflow)
            completed += 1
        if seconds is not None and time.perf_counter() - started > seconds:
            break
    return completed / (time.perf_counter() - started)


# -- PostgreSQL commit floor --------------------------------------------------------------------------------------
def psycopg_dsn(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def pg_commit_floor(url: str, *, connections: int = 1, seconds: float = 1.5) -> tuple[float, float]:
    """(commits per second, mean ms per commit): single-row INSERT + COMMIT over TCP with psycopg 3."""
    dsn = psycopg_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_floor "
                     "(id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text)")
    counts = [0] * connections
    busy = [0.0] * connections
    deadline = time.perf_counter() + seconds

    def one(i: int) -> None:
        with psycopg.connect(dsn) as conn:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                conn.execute("INSERT INTO bench_commit_floor (at, note) VALUES (now(), %s)", ("floor",))
                conn.commit()
                busy[i] += time.perf_counter() - began
                counts[i] += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(connections)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE bench_commit_floor")
    total = sum(counts)
    return total / elapsed, (sum(busy) / total * 1000) if total else float("nan")


# -- the floors of one run, and ratios to them --------------------------------------------------------------------
@dataclass
class Floors:
    spiff_per_second: float
    pg_commit_ms: float
    pg_commits_per_second_1: float
    pg_commits_per_second_4: float
    measured_at: str

    def line(self) -> str:
        return (f"floors: in-process SpiffWorkflow {self.spiff_per_second:.0f} completions/s (three-step approval, "
                f"1 core, no DB, no HTTP); PostgreSQL single-row INSERT+COMMIT {self.pg_commit_ms:.2f} ms "
                f"({self.pg_commits_per_second_1:.0f}/s on 1 connection, {self.pg_commits_per_second_4:.0f}/s on 4)")


_measured: Floors | None = None


def measure_floors(url: str | None = None, *, spiff_instances: int = 150, pg_seconds: float = 1.5) -> Floors:
    url = url or os.environ.get("BENCH_FLOOR_DATABASE_URL", DEFAULT_FLOOR_URL)
    ensure_database(url)
    spiff = spiff_floor(instances=spiff_instances)
    per_second_1, ms = pg_commit_floor(url, connections=1, seconds=pg_seconds)
    per_second_4, _ = pg_commit_floor(url, connections=4, seconds=pg_seconds)
    return Floors(spiff, ms, per_second_1, per_second_4, datetime.now(UTC).isoformat(timespec="seconds"))


def floors() -> Floors:
    """This run's floors, measured the first time a benchmark asks (and printed then)."""
    global _measured
    if _measured is None:
        _measured = measure_floors()
        print(f"   {_measured.line()}", flush=True)
    return _measured


def rate_ratio(per_second: float, floor_per_second: float, floor_name: str = "in-process floor") -> str:
    """'83/s = 0.19 × in-process floor (431/s)'."""
    return f"{per_second:.0f}/s = {per_second / floor_per_second:.2f} × {floor_name} ({floor_per_second:.0f}/s)"


def latency_ratio(label: str, ms: float, commit_ms: float) -> str:
    """'p95 65.0 ms = 42 × PG commit (1.54 ms)'."""
    return f"{label} {ms:.1f} ms = {ms / commit_ms:.0f} × PG commit ({commit_ms:.2f} ms)"


# -- results file -------------------------------------------------------------------------------------------------
def write_results(results: dict, folder: Path = RESULTS, floors_: Floors | None = None,
                  clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Path:
    """bench/results/<UTC time>.json and latest.json: every benchmark's figures and the floors of the run."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = clock()
    document = {"run_at": stamp.isoformat(timespec="seconds"), "cores": os.cpu_count(),
                "floors": asdict(floors_) if floors_ else (asdict(_measured) if _measured else None),
                "benchmarks": results}
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    path = folder / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(body, encoding="utf-8")
    (folder / "latest.json").write_text(body, encoding="utf-8")
    return path

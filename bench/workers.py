"""Real `jiuzhu worker` processes side by side against one database — the timer benchmark's scale-out phase and
`tests/test_engine__scale_out.py` both start them this way (what production runs, not threads in one process)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A worker logs "sweeps: {...}" after a tick that handled something; its 'timers' figure is what it fired.
SWEEP_LOG = re.compile(r"sweeps: \{.*'timers': (\d+)")
STARTED = "后台任务进程已启动"  # what `jiuzhu worker` prints once its scheduler runs (web/cli.py)


def worker_environment(url: str, folder: Path, clock_start: str) -> dict:
    """The environment of a worker on `url` with the shared simulated clock, sweeping every second."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIUZHU_", "DATABASE_URL", "PORT"))}
    env.update({"DATABASE_URL": url, "JIUZHU_INSTANCE_PATH": str(folder / "instance"), "JIUZHU_CLOCK": "simulated",
                "JIUZHU_CLOCK_START": clock_start, "JIUZHU_SWEEP_SECONDS": "1", "SECRET_KEY": "scale-out",
                "JIUZHU_ENV": "development", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    return env


@contextmanager
def running_workers(url: str, count: int, folder: Path, clock_start: str) -> Iterator[tuple[list, list[Path]]]:
    """Start `count` workers logging to `folder`/worker<i>.log; yields (processes, logs); SIGTERM on the way out
    (a worker finishes its step and exits), killed if one has not stopped within a minute."""
    env = worker_environment(url, folder, clock_start)
    logs = [folder / f"worker{i}.log" for i in range(count)]
    procs = [subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], cwd=ROOT, env=env,
                              stdout=log.open("wb"), stderr=subprocess.STDOUT) for log in logs]
    try:
        yield procs, logs
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_until_started(procs: list, logs: list[Path], seconds: float = 120) -> None:
    """Until every worker has printed its start line; RuntimeError if one exits or the time runs out."""
    deadline = time.monotonic() + seconds
    while not all(STARTED in log.read_text(errors="replace") for log in logs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a worker did not start; see {logs[0].parent}")
        time.sleep(0.2)


def fired_per_worker(logs: list[Path]) -> list[int]:
    """How many timers each worker fired, from its own log."""
    return [sum(int(n) for n in SWEEP_LOG.findall(log.read_text(errors="replace"))) for log in logs]

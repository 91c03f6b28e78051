"""`python -m bench [name…]`: run the benchmarks, print their figures beside this run's floors, and write them all
to bench/results/<time>.json (and latest.json)."""
from __future__ import annotations

import importlib
import sys
import time

from bench.floors import floors, write_results

# Each entry is a module in this package with `run()` that prints its own figures and may return them as a dict
# (written to the results file). Modules that are not there yet are reported as "not available".
BENCHMARKS = [
    "throughput",
    "hot_path",
    "dibao_flow",
    "timer_sweep",
    "overdue",
    "script_limits",
    "payment_run",
    "review_sweep",
]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    failed = 0
    results: dict = {}
    print("== floors", flush=True)
    floors()
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"== {name}: not available")
                continue
            raise
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            figures = module.run()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            failed += 1
            print(f"   FAILED: {exc!r}")
            figures = {"failed": repr(exc)}
        seconds = time.perf_counter() - started
        results[name] = {"seconds": round(seconds, 1), **(figures if isinstance(figures, dict) else {})}
        print(f"   ({seconds:.1f} s)", flush=True)
    path = write_results(results)
    print(f"== figures written to {path}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`python -m bench [name…]`: run the benchmarks and print their figures."""
from __future__ import annotations

import importlib
import sys
import time

# Each entry is a module in this package with `run() -> None` that prints its own figures.
BENCHMARKS = ["throughput", "overdue", "script_limits"]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    failed = 0
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
            module.run()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            failed += 1
            print(f"   FAILED: {exc!r}")
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

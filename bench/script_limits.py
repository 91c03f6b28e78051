"""What running scripts under limits costs (issue "Hardening", items 1–2).

`python -m bench script_limits` prints µs per evaluation of typical 低保 expressions and scripts, in this process
(RestrictedPython only, no limits) and through the runner process (engine/script_runner.py: CPU, memory and
result-size limits), including one whitelisted-function call back to the parent.

The same module is a pytest plugin measuring whole cases:
`pytest -p bench.script_limits tests/test_scenario__dibao.py` prints how many evaluations the 低保 scenarios made
and the time spent in them; `BENCH_SCRIPT_LIMITS=off` runs the same scenarios with scripts in-process, for the
difference.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from engine.script_runner import ScriptLimits, shutdown
from engine.scripting import RestrictedEnvironment

LIMITS = ScriptLimits()  # the defaults: 2 s CPU, 256 MB, 1024 KB

# Task data shaped like a 低保 case at the district approval (a household of three).
CASE_DATA: dict[str, Any] = {
    "applicant": {"name": "张三", "id_number": "110105197001011234", "phone": "13800000000"},
    "household": [
        {"name": "张三", "relation": "本人", "birth_date": "1970-01-01", "disability": None, "income": 800.0},
        {"name": "李四", "relation": "配偶", "birth_date": "1972-05-01", "disability": "二级", "income": 0.0},
        {"name": "张小", "relation": "子女", "birth_date": "2015-09-01", "disability": None, "income": 0.0},
    ],
    "monthly_income": 800.0, "local_standard": 1395.0, "street_decision": "approve", "visit": False,
    "objections": [], "proposed_amount": 2269.0, "notes": "材料齐全" * 20,
}

CASES: list[tuple[str, str, str]] = [
    ("eval", "gateway condition", "street_decision == 'approve' and not objections"),
    ("eval", "DMN-style rule", "(monthly_income / len(household)) < local_standard"),
    ("exec", "script", "members = len(household)\nper_person = monthly_income / members\n"
                       "eligible = per_person < local_standard"),
    ("exec", "script + function", "due = working_deadline(5)"),
]


def _per_call(fn: Callable[[], Any], seconds: float = 1.0) -> float:
    fn()  # warm up (the runner starts here)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        count += 1
    return (time.perf_counter() - started) / count * 1e6


def run() -> None:
    functions = {"working_deadline": lambda n: "2026-03-10T00:00:00+08:00"}
    here = RestrictedEnvironment(functions)
    limited = RestrictedEnvironment(functions, LIMITS)
    print(f"   µs per evaluation, task data {len(str(CASE_DATA))} chars; in-process vs runner "
          f"({LIMITS.cpu_seconds:g} s CPU, {LIMITS.memory_mb} MB, {LIMITS.output_kb} KB)")
    try:
        for mode, label, source in CASES:
            def call(env: RestrictedEnvironment, mode: str = mode, source: str = source) -> Any:
                if mode == "eval":
                    return env.evaluate(source, dict(CASE_DATA))
                return env.execute(source, dict(CASE_DATA))

            a = _per_call(lambda: call(here))
            b = _per_call(lambda: call(limited))
            print(f"   {label:<20} {a:9.1f} µs  {b:9.1f} µs  (+{b - a:.0f} µs)")
        started = time.perf_counter()
        shutdown()
        env = RestrictedEnvironment({}, LIMITS)
        env.evaluate("1", {})
        print(f"   runner start (first script of a process): {(time.perf_counter() - started) * 1e3:.0f} ms")
    finally:
        shutdown()


# -- pytest plugin: whole cases -------------------------------------------------------------------------------------

_stats = {"evaluations": 0, "seconds": 0.0}


def pytest_configure(config) -> None:
    if os.environ.get("BENCH_SCRIPT_LIMITS") == "off":
        import web.engine_setup  # only when asked: the plugin must not build the app's modules early otherwise

        web.engine_setup.script_limits = lambda app: None  # type: ignore[assignment]

    def timed(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                _stats["evaluations"] += 1
                _stats["seconds"] += time.perf_counter() - started

        return wrapper

    RestrictedEnvironment.evaluate = timed(RestrictedEnvironment.evaluate)  # type: ignore[method-assign]
    RestrictedEnvironment.execute = timed(RestrictedEnvironment.execute)  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter) -> None:
    mode = "in-process" if os.environ.get("BENCH_SCRIPT_LIMITS") == "off" else "runner"
    n, seconds = _stats["evaluations"], _stats["seconds"]
    terminalreporter.write_line(
        f"script evaluations ({mode}): {n}, {seconds * 1e3:.0f} ms in total, "
        f"{seconds / max(n, 1) * 1e6:.0f} µs each"
    )

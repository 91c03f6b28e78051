"""The benchmarks' yardsticks (bench/floors.py) at tiny sizes: the in-process floor really steps the diagram, the
ratios are computed and printed as the README quotes them, and a run's figures land in a JSON file."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bench import floors as floors_module
from bench.floors import Floors, latency_ratio, rate_ratio, spiff_floor, write_results
from bench.samples import three_steps


def test_bench__ratio_lines_say_the_figure_the_floor_and_their_ratio():
    assert rate_ratio(83, 431) == "83/s = 0.19 × in-process floor (431/s)"
    assert latency_ratio("p95", 65.0, 1.5) == "p95 65.0 ms = 43 × PG commit (1.50 ms)"


def test_bench__spiff_floor_completes_every_task_of_the_diagram(monkeypatch):
    runs = []
    real = floors_module.dump_state

    def counting(workflow):
        runs.append(workflow.is_completed())
        return real(workflow)

    monkeypatch.setattr(floors_module, "dump_state", counting)
    per_second = spiff_floor(three_steps("tiny"), instances=2)
    assert per_second > 0
    # Per instance: the state after start, then one save per task A, B, C; the last one completes the instance.
    assert runs == [False, False, False, True] * 2


def test_bench__spiff_floor_counts_completions_not_instances(monkeypatch):
    ticks = iter([0.0, 1.0])  # started, then the end: one second for the whole loop
    monkeypatch.setattr(floors_module.time, "perf_counter", lambda: next(ticks, 1.0))
    assert spiff_floor(three_steps("six", names=tuple("ABCDEF")), instances=2) == 12.0


def test_bench__results_file_holds_the_floors_and_every_figure(tmp_path):
    measured = Floors(spiff_per_second=431.0, pg_commit_ms=1.5, pg_commits_per_second_1=650.0,
                      pg_commits_per_second_4=1500.0, measured_at="2026-12-01T10:00:00+00:00")
    path = write_results({"throughput": {"runs": [{"clients": 4, "per_second": 83.0}]}}, folder=tmp_path,
                         floors_=measured, clock=lambda: datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    assert path.name == "20261201T100000Z.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["floors"]["spiff_per_second"] == 431.0
    assert document["benchmarks"]["throughput"]["runs"][0]["per_second"] == 83.0
    assert json.loads((tmp_path / "latest.json").read_text(encoding="utf-8")) == document


def test_bench__floors_line_names_both_yardsticks():
    line = Floors(1245.0, 0.52, 1928.0, 5061.0, "x").line()
    assert "in-process SpiffWorkflow 1245 completions/s" in line and "INSERT+COMMIT 0.52 ms" in line


@pytest.mark.parametrize("database", ["postgres", "test", ""])
def test_bench__never_empties_a_shared_database(database):
    with pytest.raises(SystemExit):
        floors_module.fresh_database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}")

"""`jiuzhu simulate`: runs a scenario on a scratch database (never DATABASE_URL), prints its progress and speed, writes
report.csv and report.html (and compare.csv for --vary), and refuses a bad scenario or a database in use in one line."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

JIUZHU = [sys.executable, "-m", "web.cli"]

TINY = """\
name: 小区推演
start: 2026-03-02
months: 1
seed: 5
arrivals:
  dibao:
    per_month: 22
    streets: {安定街道: 1.0, 和平街道: 0}
economic_check: {reply_after_working_days: 0}
staff:
  安定街道:
    street_reviewer: {people: 1, tasks_per_day: 1}
"""


def run(args, tmp_path: Path, timeout: int = 600):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JIUZHU_", "DATABASE_URL"))}
    # The installation's database: the simulation must never create or touch it.
    environment.update({"JIUZHU_INSTANCE_PATH": str(tmp_path / "instance"),
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}"})
    return subprocess.run([*JIUZHU, *args], cwd=tmp_path, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(result, expected: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("错误：")]
    assert len(errors) == 1 and expected in errors[0], result.stderr


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_cli__simulate_writes_the_report_and_compares_staffing(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    result = run(["simulate", "tiny.yaml", "--out", "out", "--vary", "street_reviewer@安定街道=1,2"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "模拟第 7/31 天（2026-03-08）" in result.stdout and "模拟第 31/31 天（2026-04-01）" in result.stdout
    assert "每秒模拟" in result.stdout
    assert not (tmp_path / "live.db").exists()
    for people in (1, 2):
        folder = tmp_path / "out" / f"street_reviewer-{people}"
        rows = read_csv(folder / "report.csv")
        review = [r for r in rows if r["街道"] == "安定街道" and r["环节标识"] == "street_review"
                  and r["流程"] == "dibao"]
        # One a day arriving: one reviewer keeps up (the last day's task waits), two as well.
        assert [int(r["周末积压"]) for r in review] == [1, 1, 1, 1, 1]
        html = (folder / "report.html").read_text(encoding="utf-8")
        assert "<svg" in html and "<polyline" in html and "<script" not in html and "http" not in html.replace(
            "http://www.w3.org/2000/svg", "")
    compared = read_csv(tmp_path / "out" / "compare.csv")
    assert [r["人数"] for r in compared] == ["1", "2"] and [r["每日可办"] for r in compared] == ["1", "2"]
    assert (tmp_path / "out" / "compare.md").read_text(encoding="utf-8").startswith("| 人数 |")


@pytest.mark.slow
def test_cli__simulate_refuses_a_database_that_is_not_empty(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY.replace("months: 1", "months: 1\nreviews: {per_month: 0}"),
                                        encoding="utf-8")
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    first = run(["simulate", "tiny.yaml", "--out", "out", "--database", scratch], tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "out" / "report.csv").exists() and (tmp_path / "out" / "report.html").exists()
    one_line_error(run(["simulate", "tiny.yaml", "--database", scratch], tmp_path), "数据库不是空的")


def test_cli__simulate_names_the_bad_keys(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "start: 2026-03-02\nmonths: 400\narrivals: {dibao: 10}\n"
        "staff: {安定街道: {street_clerk: {people: 2, tasks_per_dya: 8}}}\n", encoding="utf-8")
    result = run(["simulate", "bad.yaml"], tmp_path, timeout=120)
    one_line_error(result, "场景文件 bad.yaml 有误")
    assert "months：必须在 1 到 36 之间" in result.stderr
    assert "staff.安定街道.street_clerk.tasks_per_dya：未知的键" in result.stderr
    assert "staff.安定街道.street_clerk.tasks_per_day：缺少此项" in result.stderr
    (tmp_path / "broken.yaml").write_text("start: [2026\n", encoding="utf-8")
    one_line_error(run(["simulate", "broken.yaml"], tmp_path, timeout=120), "有误")
    one_line_error(run(["simulate", "missing.yaml"], tmp_path, timeout=120), "有误")
    (tmp_path / "ok.yaml").write_text(TINY, encoding="utf-8")
    vary = run(["simulate", "ok.yaml", "--vary", "street_reviewer@西城街道=1,2"], tmp_path, timeout=120)
    one_line_error(vary, "有误")
    assert "--vary：西城街道 不是本区或其街道" in vary.stderr

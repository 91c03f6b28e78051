"""The `jiuzhu` command fails in one line that says what to do: no traceback, a non-zero exit status."""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JIUZHU = [sys.executable, "-m", "web.cli"]


def run(args, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JIUZHU_", "DATABASE_URL", "PORT"))}
    environment.update({"JIUZHU_INSTANCE_PATH": str(tmp_path / "instance"),
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}, **env)
    return subprocess.run([*JIUZHU, *args], cwd=tmp_path, env=environment, capture_output=True, text=True,
                          timeout=120)


def one_line_error(result, expected: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr and "sqlalchemy" not in result.stderr.lower(), result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("错误：")]
    assert len(errors) == 1 and expected in errors[0], result.stderr


def test_cli__version_is_jiuzhu_s(tmp_path):
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"jiuzhu {metadata.version('jiuzhu')}"
    assert "Flask" not in result.stdout


@pytest.mark.parametrize("args", [["demo"], ["deploy", str(ROOT / "bpmn" / "dibao.bpmn")],
                                  ["calendar", "status"]])
def test_cli__an_unmigrated_database_says_run_db_upgrade(tmp_path, args):
    one_line_error(run(args, tmp_path), "数据库尚未初始化，请先运行 jiuzhu db upgrade")


def test_cli__clock_on_an_unmigrated_database(tmp_path):
    one_line_error(run(["clock", "advance", "P1D"], tmp_path, JIUZHU_CLOCK="simulated"), "jiuzhu db upgrade")


def test_cli__an_unreachable_database_says_so(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(["demo"], tmp_path, DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing")
    one_line_error(result, "无法连接数据库")
    assert "DATABASE_URL" in result.stderr


def test_cli__a_busy_port_fails_before_anything_is_printed(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run(["serve", "--port", str(port)], tmp_path)
    one_line_error(result, f"端口 {port} 已被占用")
    assert f"PORT={port + 1}" in result.stderr
    assert "服务地址" not in result.stdout and "数据库迁移" not in result.stdout
    with sqlite3.connect(tmp_path / "fresh.db") as database:  # nothing was migrated
        assert database.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone() == (0,)


def test_cli__calendar_import_then_deploy_no_longer_warns_for_that_year(tmp_path):
    env = {"JIUZHU_CLOCK": "simulated", "JIUZHU_CLOCK_START": "2026-12-01T09:00:00+08:00"}
    assert run(["db", "upgrade"], tmp_path, **env).returncode == 0
    deployed = run(["deploy", str(ROOT / "bpmn" / "dibao.bpmn")], tmp_path, **env)
    assert deployed.returncode == 0, deployed.stderr
    assert "警告：2027 年" in deployed.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind\n2027-02-30,holiday\n", encoding="utf-8")
    refused = run(["calendar", "import", str(bad)], tmp_path, **env)
    one_line_error(refused, "日历文件有 1 处错误")
    assert "第 2 行" in refused.stderr

    imported = run(["calendar", "import", str(ROOT / "docs" / "examples" / "calendar-2027.csv")], tmp_path, **env)
    assert imported.returncode == 0, imported.stderr
    assert "已导入 2027 年" in imported.stdout
    again = run(["deploy", str(ROOT / "bpmn" / "dibao.bpmn")], tmp_path, **env)
    assert again.returncode == 0 and "警告" not in again.stdout, again.stdout


def test_cli__the_app_does_not_import_the_cli():
    probe = "import sys, web.app; print('web.cli' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr

"""`jiuzhu simulate SCENARIO.yaml`: the capacity simulation (容量推演, workflows/simulation) on a scratch database.

The command never touches the installation's database: it ignores DATABASE_URL and builds its own app on a fresh
SQLite file in a temporary folder (deleted afterwards), or on `--database URL`, which must have no tables at all. Into it go the
schema, the process catalog of bpmn/ and the scenario's district; then the run, then report.csv and report.html in
`--out`. With `--vary role@street=1,2,3` the scenario runs once per head count, each on its own scratch database,
and compare.csv / compare.md set the options side by side.
"""
from __future__ import annotations

import logging
import re
import secrets
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import inspect

from engine.scripting import make_script_engine
from workflows.simulation import (
    Progress,
    Scenario,
    ScenarioError,
    Simulation,
    SimulationError,
    compare,
    load_scenario,
    summary_lines,
    weekly_rows,
    write_csv,
)
from workflows.simulation.chart import write_html

from .app import create_app
from .deadline_service import deadlines
from .extensions import db

PROJECT_BPMN = Path(__file__).resolve().parent.parent / "bpmn"


class SimulateError(click.ClickException):
    """One line `错误：…` and exit status 1, like the other commands (web/cli.py)."""

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True, file=file)


@contextmanager
def scratch_app(scenario: Scenario, database: str | None):
    """An app on a fresh database (a temporary SQLite file unless `database` is given), migrated and with the
    process catalog deployed, inside its app context."""
    with tempfile.TemporaryDirectory(prefix="jiuzhu-simulate-") as folder:
        url = database or f"sqlite:///{Path(folder) / 'simulation.db'}"
        app = create_app({"DATABASE_URL": url, "JIUZHU_CLOCK": "simulated",
                          "JIUZHU_CLOCK_START": f"{scenario.start.isoformat()}T00:00:00+08:00",
                          "SECRET_KEY": secrets.token_hex(16), "JIUZHU_ENV": "development"})
        with app.app_context():
            try:
                # Checked before migrating: even a migration would change a database in use.
                if inspect(db.engine).get_table_names():
                    raise SimulateError("--database 指向的数据库不是空的：推演只在没有任何表的空数据库上运行，"
                                        "以免改动正式数据")
                _quietly(lambda: upgrade(revision="heads"))
                _deploy_catalog()
                # The catalog is the project's own: its scripts run in the sandbox in this process, sparing the
                # runner process's round trips (its limits guard against diagrams from elsewhere).
                engine = current_app.extensions["jiuzhu.engine"]
                engine.script_engine = make_script_engine(engine.script_engine.environment.functions)
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


def _quietly(action) -> None:
    # One log line per migration is noise here; the migrations' logging config would undo a logger's level.
    logging.disable(logging.INFO)
    try:
        action()
    finally:
        logging.disable(logging.NOTSET)


def _deploy_catalog() -> None:
    # The same catalog deploy as start-up (a file of several processes deploys each of its programs).
    from .cli import deploy_files  # noqa: PLC0415  (web.cli imports this module to register the command)

    folder = Path(current_app.config.get("JIUZHU_BPMN_DIR") or PROJECT_BPMN)
    lines: list[str] = []
    if not deploy_files(sorted(folder.glob("*.bpmn")), echo=lines.append):
        refused = [line.strip() for line in lines if "拒绝部署" in line or line.startswith("    ")]
        raise SimulateError("流程目录无法部署：" + "；".join(refused[:4]))


def _progress(echo):
    def show(p: Progress) -> None:
        if p.day % 7 == 0 or p.day == p.total:
            echo(f"模拟第 {p.day}/{p.total} 天（{p.date.isoformat()}），待办 {p.open_tasks} 项")
    return show


def run_one(scenario: Scenario, out: Path, database: str | None, echo=click.echo):
    """Run one scenario and write its report; returns (result, weekly rows)."""
    with scratch_app(scenario, database):
        simulation = Simulation(db.session, current_app.extensions["jiuzhu.engine"], deadlines(), scenario,
                                progress=_progress(echo))
        try:
            result = simulation.run()
        except SimulationError as exc:
            raise SimulateError(str(exc)) from exc
    rows = weekly_rows(result)
    out.mkdir(parents=True, exist_ok=True)
    speed = (f"模拟 {result.days} 天（工作日 {result.working_days} 天）用时 {result.seconds:.1f} 秒，"
             f"每秒模拟 {result.days_per_second:.2f} 天")
    write_csv(rows, out / "report.csv")
    write_html(result, rows, out / "report.html", speed)
    for line in summary_lines(result, rows):
        echo(line)
    echo(speed)
    echo(f"报告：{out / 'report.csv'}，{out / 'report.html'}")
    return result, rows


def _default_out(path: Path) -> Path:
    return Path.cwd() / f"simulation-{re.sub(r'[^0-9A-Za-z_一-龥-]+', '_', path.stem)}"


@click.command("simulate")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="报告目录（report.csv、report.html）；默认 ./simulation-<场景文件名>")
@click.option("--database", default=None,
              help="推演用的空数据库 URL；默认在临时目录新建 SQLite 文件。从不使用 DATABASE_URL")
@click.option("--months", type=click.IntRange(1, 36), default=None, help="只推演前几个月（覆盖场景的 months）")
@click.option("--vary", default=None, metavar="岗位@街道=人数,…",
              help="比较几种人手，如 street_clerk@安定街道=1,2,3：每种人数各推演一次，写出 compare.csv / compare.md")
def simulate_command(scenario_file: Path, out: Path | None, database: str | None, months: int | None,
                     vary: str | None):
    """Capacity simulation (容量推演): replay a district's load through the real engine on a scratch database."""
    try:
        scenario = load_scenario(scenario_file)
        variation = compare.parse_variation(vary, scenario) if vary else None
    except ScenarioError as exc:
        for line in exc.lines():
            click.echo(f"  {line}", err=True)
        raise SimulateError(f"场景文件 {scenario_file} 有误（共 {len(exc.problems)} 处）") from exc
    if months is not None:
        scenario = replace(scenario, months=months)
    out = out or _default_out(scenario_file)
    if variation is None:
        click.echo(f"推演「{scenario.name}」：{scenario.start.isoformat()} 起 {scenario.months} 个月")
        run_one(scenario, out, database)
        return
    if database and len(variation.people) > 1:
        raise SimulateError("--vary 的每种方案都需要一个空数据库，不能与 --database 同用")
    lines = []
    for people in variation.people:
        click.echo(f"推演「{scenario.name}」，{variation.label()} {people} 人")
        _result, rows = run_one(compare.with_people(scenario, variation, people), out / f"{variation.role}-{people}",
                                database)
        lines.append(compare.option_figures(variation, scenario, people, rows))
    compare.write(lines, out)
    click.echo(f"{variation.label()} 各方案对比：")
    click.echo(compare.markdown(lines), nl=False)
    click.echo(f"对比表：{out / 'compare.csv'}，{out / 'compare.md'}")

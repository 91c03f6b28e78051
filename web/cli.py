"""The `jiuzhu` command: serve, worker, deploy, demo, clock, and Flask-Migrate's `db upgrade`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from engine.errors import InvalidDefinition

PROJECT_BPMN = Path(__file__).resolve().parent.parent / "bpmn"


def bpmn_dir() -> Path:
    configured = current_app.config.get("JIUZHU_BPMN_DIR")
    return Path(configured) if configured else PROJECT_BPMN


def upgrade_database() -> None:
    from flask_migrate import upgrade

    # "heads": feature branches may add migrations side by side before a merge revision joins them.
    upgrade(revision="heads")


def deploy_files(paths, *, echo=click.echo) -> bool:
    """Deploy diagrams, reporting each; returns False if any was refused."""
    from engine.deploy import deploy
    from workflows.forms import FORMS
    from workflows.roles import TASK_ROLES

    from .extensions import db

    engine = current_app.extensions["jiuzhu.engine"]
    ok = True
    total = len(paths)
    for number, path in enumerate(paths, 1):
        try:
            result = deploy(db.session, Path(path).read_bytes(), now=engine.now(), deployed_by="cli",
                            roles=TASK_ROLES, form_keys=set(FORMS))
        except InvalidDefinition as exc:
            ok = False
            echo(f"[{number}/{total}] {path}: 拒绝部署")
            for problem in exc.problems:
                echo(f"    {problem.element_id or '-'}: {problem.message}")
            continue
        state = "新版本" if result.created else "未变化"
        echo(f"[{number}/{total}] {path}: {result.definition.key} v{result.definition.version}（{state}）")
        for warning in result.warnings:
            echo(f"    提示 {warning.element_id or '-'}: {warning.message}")
    return ok


def seed_demo(echo=click.echo) -> None:
    from workflows.demo import seed

    from .extensions import db

    if current_app.config["JIUZHU_ENV"] == "production":
        raise click.ClickException("JIUZHU_ENV=production 时不能写入演示数据")
    created = seed(db.session)
    echo(f"演示数据就绪（新建 {created} 个用户，密码均为 demo）")


def prepare(echo=click.echo) -> None:
    """Everything `serve` does before serving: schema, catalog, demo data on an empty database."""
    from workflows.demo import is_empty

    from .extensions import db

    echo("数据库迁移…")
    upgrade_database()
    echo("部署流程目录…")
    files = sorted(bpmn_dir().glob("*.bpmn"))
    deploy_files(files, echo=echo)
    if is_empty(db.session):
        if current_app.config["JIUZHU_ENV"] == "production":
            echo("生产环境：数据库为空，未写入演示数据")
        else:
            seed_demo(echo)


def run_worker_forever(app: Flask, stop_when=lambda: False) -> None:
    from .jobs import start_scheduler

    scheduler = start_scheduler(app)
    try:
        while not stop_when():
            time.sleep(1)
    finally:
        scheduler.shutdown(wait=False)


@click.command("serve")
@click.option("--port", type=int, default=None, help="默认取 PORT，否则 5000")
@click.option("--workers", type=int, default=None, help="默认取 WEB_CONCURRENCY，否则 2")
@with_appcontext
def serve_command(port, workers):
    """Set up the database and serve the app (gunicorn) with the in-process background worker."""
    app = current_app._get_current_object()
    prepare()
    port = port or int(app.config["PORT"])
    workers = workers or int(app.config["WEB_CONCURRENCY"])
    command = [sys.executable, "-m", "gunicorn", "--config", "python:web.gunicorn_conf", "--workers", str(workers),
               "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "web.wsgi:app"]
    click.echo(f"服务地址 http://127.0.0.1:{port}/ （{workers} 个进程）")
    server = subprocess.Popen(command, env=dict(os.environ))

    def _stop(signum, _frame):
        server.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        run_worker_forever(app, stop_when=lambda: server.poll() is not None)
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait(timeout=20)
    sys.exit(server.returncode or 0)


@click.command("worker")
@with_appcontext
def worker_command():
    """Run the background sweeps (timers, deadlines, outbox) until stopped; any number may run side by side."""
    app = current_app._get_current_object()
    click.echo("后台任务进程已启动")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        run_worker_forever(app, stop_when=lambda: bool(stopping))
    except KeyboardInterrupt:
        pass


@click.command("deploy")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def deploy_command(files):
    """Validate and deploy BPMN files; unchanged content makes no new version."""
    if not deploy_files(list(files)):
        sys.exit(1)


@click.command("demo")
@with_appcontext
def demo_command():
    """Write the demo district, users (password demo) and standards."""
    seed_demo()


@click.group("clock")
def clock_group():
    """The simulated clock (JIUZHU_CLOCK=simulated only)."""


@clock_group.command("advance")
@click.argument("duration")
@with_appcontext
def clock_advance(duration):
    """Move simulated time forward by an ISO duration (P8D, PT2H) and run the due sweeps."""
    from engine import clock as clock_module
    from engine.durations import parse_duration

    from .engine_setup import advance_simulated_clock
    from .jobs import run_due_sweeps

    if clock_module.active().mode != "simulated":
        raise click.ClickException("只有 JIUZHU_CLOCK=simulated 时才能调整时间")
    try:
        delta = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    now = advance_simulated_clock(delta)
    click.echo(f"现在是 {now.isoformat()}；{run_due_sweeps()}")


def register(app: Flask) -> None:
    for command in (serve_command, worker_command, deploy_command, demo_command, clock_group):
        app.cli.add_command(command)


def _create_app():
    from .app import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, add_default_commands=False,
                 help="Jiuzhu 救助 — 社会救助审批系统")


def main() -> None:
    cli.main(prog_name="jiuzhu")


if __name__ == "__main__":
    main()

"""The `jiuzhu` command: serve, worker, deploy, demo, clock, calendar, and Flask-Migrate's `db upgrade`.

The commands belong to the `jiuzhu` group itself, not to the app (create_app does not import this module), and a
failure a user can fix — a database not migrated or not reachable, a busy port, a bad file — is one line saying what
to do, never a traceback.
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from importlib import metadata
from pathlib import Path

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import Migrate, upgrade
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError, SQLAlchemyError

from engine import clock as clock_module
from engine.calendar import YearFileError, parse_year_file
from engine.definitions import BPMN_NS, NSMAP, parse_xml_safely
from engine.deploy import deploy
from engine.durations import parse_duration
from engine.errors import InvalidDefinition
from workflows.agencies import AGENCIES
from workflows.demo import is_empty, seed, seed_linshi_limits
from workflows.demo_aid import seed_aid
from workflows.demo_cases import seed_cases
from workflows.demo_payments import seed_payments
from workflows.demo_programs import seed_program_cases
from workflows.forms.designed_store import form_keys
from workflows.roles import TASK_ROLES

from .app import create_app
from .calendar_notice import coverage_warnings
from .cli_payments import payments_group
from .cli_simulate import simulate_command
from .deadline_service import deadlines, import_year, refresh_calendar, year_status
from .engine_setup import advance_simulated_clock
from .extensions import db
from .jobs import run_due_sweeps, start_scheduler

PROJECT_BPMN = Path(__file__).resolve().parent.parent / "bpmn"
MIGRATE_HINT = "数据库尚未初始化，请先运行 jiuzhu db upgrade"


class CommandError(click.ClickException):
    """A one-line error in Chinese (`错误：…`), exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True, file=file)


def jiuzhu_version() -> str:
    try:
        return metadata.version("jiuzhu")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "未安装（源代码）"


def _safe_url() -> str:
    try:
        return db.engine.url.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for the message
        return current_app.config.get("SQLALCHEMY_DATABASE_URI", "?")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def require_database() -> None:
    """Fail with one line when the database cannot be reached or is not migrated to the code's schema."""
    quiet = logging.getLogger("alembic.runtime.migration")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # "Context impl SQLiteImpl." is noise when nothing is migrated
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except (OperationalError, DBAPIError) as exc:
        raise CommandError(f"无法连接数据库 {_safe_url()}（{_first_line(exc)}），"
                           "请检查 DATABASE_URL 以及数据库是否已启动") from exc
    finally:
        quiet.setLevel(level)
    if not current:
        raise CommandError(MIGRATE_HINT)
    migrate: Migrate = current_app.extensions["migrate"].migrate
    heads = set(ScriptDirectory.from_config(migrate.get_config()).get_heads())
    if not current >= heads:
        raise CommandError("数据库结构不是最新版本，请先运行 jiuzhu db upgrade")


def calendar_warnings(today: date | None = None) -> list[str]:
    """`警告：…` lines when this year's or next year's holiday arrangement is not known."""
    refresh_calendar()
    return [f"警告：{text}" for text in coverage_warnings(today)]


def port_is_free(port: int, host: str = "127.0.0.1") -> tuple[bool, str]:
    """Whether a server could listen on host:port now (SO_REUSEADDR like gunicorn: TIME_WAIT is no obstacle)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
        probe.listen(1)
    except OSError as exc:
        return False, ("已被占用" if exc.errno == errno.EADDRINUSE else
                       "无权限使用" if exc.errno == errno.EACCES else f"无法使用（{exc.strerror}）")
    finally:
        probe.close()
    return True, ""


def bpmn_dir() -> Path:
    configured = current_app.config.get("JIUZHU_BPMN_DIR")
    return Path(configured) if configured else PROJECT_BPMN


def upgrade_database() -> None:
    # "heads": feature branches may add migrations side by side before a merge revision joins them.
    upgrade(revision="heads")


def deploy_files(paths, *, echo=click.echo) -> bool:
    """Deploy diagrams, reporting each; returns False if any was refused."""
    engine = current_app.extensions["jiuzhu.engine"]
    ok = True
    total = len(paths)
    for number, path in enumerate(paths, 1):
        data = Path(path).read_bytes()
        for process_key in root_processes(data):
            try:
                result = deploy(db.session, data, now=engine.now(), deployed_by="cli", process_key=process_key,
                                roles=TASK_ROLES, form_keys=form_keys(db.session), agencies=set(AGENCIES))
            except InvalidDefinition as exc:
                ok = False
                echo(f"[{number}/{total}] {path}{f' ({process_key})' if process_key else ''}: 拒绝部署")
                for problem in exc.problems:
                    echo(f"    {problem.element_id or '-'}: {problem.message}")
                continue
            state = "新版本" if result.created else "未变化"
            echo(f"[{number}/{total}] {path}: {result.definition.key} v{result.definition.version}（{state}）")
            for warning in result.warnings:
                echo(f"    提示 {warning.element_id or '-'}: {warning.message}")
    return ok


def root_processes(data: bytes) -> list[str | None]:
    """The processes a catalog file deploys: in a file of several processes, every executable one that no other
    process of the file calls (bpmn/zhuanxiang.bpmn: the eleven programs beside the shared steps they call, each
    deployed with those steps); otherwise [None], the engine's own choice of the file's one process."""
    try:
        root = parse_xml_safely(data)
    except InvalidDefinition:
        return [None]  # deploy() refuses it with the reason
    processes = root.findall(f"{{{BPMN_NS}}}process")
    called = {call.get("calledElement") for call in root.iterfind(".//bpmn:callActivity", NSMAP)}
    roots = [p.get("id") for p in processes if p.get("id") not in called and p.get("isExecutable") != "false"]
    return roots if len(roots) > 1 else [None]


def seed_demo(echo=click.echo) -> None:
    if current_app.config["JIUZHU_ENV"] == "production":
        raise CommandError("JIUZHU_ENV=production 时不能写入演示数据")
    created = seed(db.session)
    echo(f"演示数据就绪（新建 {created} 个用户，密码均为 demo）")
    # Living cases in every step of the 低保 flow (only on a database without cases), so every demo user has work.
    seed_cases(db.session, current_app.extensions["jiuzhu.engine"], deadlines=deadlines(), echo=echo)
    # The month's payment run of the demo households on the register (once: skipped when it exists).
    seed_payments(db.session, current_app.extensions["jiuzhu.engine"], echo=echo)
    seed_aid(db.session, current_app.extensions["jiuzhu.engine"], echo=echo)  # other agencies' aid (救助信息共享)
    # One case of each other program at its first step, so every agency's demo user has work; 临时救助's settings.
    seed_linshi_limits(db.session)
    seed_program_cases(db.session, current_app.extensions["jiuzhu.engine"], echo=echo)


def prepare(echo=click.echo) -> None:
    """Everything `serve` does before serving: schema, catalog, demo data on an empty database."""
    echo("数据库迁移…")
    upgrade_database()
    echo("部署流程目录…")
    files = sorted(bpmn_dir().glob("*.bpmn"))
    deploy_files(files, echo=echo)
    for line in calendar_warnings():
        echo(line)
    if is_empty(db.session):
        if current_app.config["JIUZHU_ENV"] == "production":
            echo("生产环境：数据库为空，未写入演示数据")
        else:
            seed_demo(echo)


def run_worker_forever(app: Flask, stop_when=lambda: False) -> None:
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
    port = port or int(app.config["PORT"])
    workers = workers or int(app.config["WEB_CONCURRENCY"])
    free, why = port_is_free(port)
    if not free:
        raise CommandError(f"端口 {port} {why}，请换一个端口，例如 PORT={port + 1} make run"
                           f"（或 jiuzhu serve --port {port + 1}）")
    try:
        prepare()
    except (OperationalError, DBAPIError) as exc:
        raise CommandError(f"无法连接数据库 {_safe_url()}（{_first_line(exc)}），"
                           "请检查 DATABASE_URL 以及数据库是否已启动") from exc
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
    require_database()
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
    require_database()
    ok = deploy_files(list(files))
    for line in calendar_warnings():
        click.echo(line)
    if not ok:
        sys.exit(1)


@click.command("demo")
@with_appcontext
def demo_command():
    """Write the demo district, users (password demo) and standards."""
    require_database()
    deploy_files(sorted(bpmn_dir().glob("*.bpmn")))  # the demo cases need the catalog; unchanged files make no version
    seed_demo()


@click.group("clock")
def clock_group():
    """The simulated clock (JIUZHU_CLOCK=simulated only)."""


@clock_group.command("advance")
@click.argument("duration")
@with_appcontext
def clock_advance(duration):
    """Move simulated time forward by an ISO duration (P8D, PT2H) and run the due sweeps."""
    if clock_module.active().mode != "simulated":
        raise CommandError("只有 JIUZHU_CLOCK=simulated 时才能调整时间")
    require_database()
    try:
        delta = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    now = advance_simulated_clock(delta)
    click.echo(f"现在是 {now.isoformat()}；{run_due_sweeps()}")


@click.group("calendar")
def calendar_group():
    """The holiday calendar: which years are known, importing a year's official arrangement."""


@calendar_group.command("status")
@with_appcontext
def calendar_status():
    """List the years around now: covered by the official table, imported, or not covered."""
    require_database()
    warnings = calendar_warnings()  # reloads the overrides: they may have changed since this process started
    engine = current_app.extensions["jiuzhu.engine"]
    this_year = engine.now().year
    names = {"official": "官方节假日表", "imported": "已导入", "none": "未覆盖（按周一至周五计算）"}
    for item in year_status(engine.calendar, db.session, range(this_year - 1, this_year + 3)):
        extra = f"，{item['override_days']} 天调整" if item["override_days"] else ""
        click.echo(f"{item['year']}：{names[item['source']]}{extra}")
    for line in warnings:
        click.echo(line)


@calendar_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--year", type=click.IntRange(1990, 2200), default=None, help="导入的年份；默认取文件中的日期")
@with_appcontext
def calendar_import(file: Path, year: int | None):
    """Import a year's holidays and make-up workdays (CSV date,kind,note or JSON); replaces that year's overrides."""
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise CommandError(f"无法读取文件 {file}：{exc.strerror}") from exc
    kind = "json" if file.suffix.lower() == ".json" else "csv" if file.suffix.lower() == ".csv" else None
    try:
        arrangement = parse_year_file(content, year, kind=kind)
    except YearFileError as exc:
        for where, messages in exc.problems.items():
            for message in messages:
                click.echo(f"  {where if where != 'file' else '文件'}：{message}", err=True)
        raise CommandError(f"{file}：{exc.message}") from exc
    require_database()
    engine = current_app.extensions["jiuzhu.engine"]
    import_year(db.session, arrangement, now=engine.now(), actor="cli", note=file.name)
    db.session.commit()
    refresh_calendar()
    holidays = sum(1 for workday in arrangement.days.values() if not workday)
    click.echo(f"已导入 {arrangement.year} 年节假日安排：放假 {holidays} 天，调休上班 "
               f"{len(arrangement.days) - holidays} 天；该年不再提示未覆盖")


COMMANDS = (serve_command, worker_command, deploy_command, demo_command, clock_group, calendar_group)
COMMANDS += (payments_group,)
COMMANDS += (simulate_command,)


def register(app: Flask) -> None:
    """Also offer the commands on `flask --app web.wsgi …` (the `jiuzhu` group has them already)."""
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app():
    return create_app()


def _print_version(ctx: click.Context, _param, value) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"jiuzhu {jiuzhu_version()}")
    ctx.exit()


class JiuzhuGroup(FlaskGroup):
    """FlaskGroup whose database failures are one line with the fix instead of a SQLAlchemy traceback."""
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OperationalError as exc:
            # Unreachable, or (SQLite) a table that does not exist: both say what to do.
            if "no such table" in str(exc.orig):
                raise CommandError(MIGRATE_HINT) from exc
            raise CommandError(f"数据库操作失败（{_first_line(exc)}），请检查 DATABASE_URL 以及数据库是否已启动；"
                               "如尚未初始化，请先运行 jiuzhu db upgrade") from exc
        except ProgrammingError as exc:
            if "does not exist" in str(exc.orig) or "UndefinedTable" in type(exc.orig).__name__:
                raise CommandError(MIGRATE_HINT) from exc
            raise CommandError(f"数据库操作失败（{_first_line(exc)}）") from exc
        except SQLAlchemyError as exc:
            raise CommandError(f"数据库操作失败（{_first_line(exc)}）") from exc


cli = JiuzhuGroup(create_app=_create_app, add_default_commands=False, add_version_option=False,
                  help="Jiuzhu 救助 — 社会救助审批系统。数据库等设置取自环境变量（见 docs/settings.md）。")
cli.params.append(click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                               callback=_print_version, help="显示 jiuzhu 的版本并退出"))
for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli.main(prog_name="jiuzhu")


if __name__ == "__main__":
    main()

"""`jiuzhu payments run PROGRAM YYYY-MM`: create (or finish, or show) a month's payment run from the command line,
printing its progress batch by batch and its totals at the end.

The same service as `POST /api/v1/payment-runs` and the 发放 page (workflows.register.payment_runs); a run killed
half way is finished by running the command again. Bad input, and every refusal of the service (a month already
confirmed → Conflict, …), is one Chinese line and exit status 1.
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from engine.errors import EngineError
from workflows.models import Jurisdiction
from workflows.register.payment_runs import BATCH_SIZE, RUN_LABELS, create_run

from .extensions import db


class PaymentsError(click.ClickException):
    """A one-line error in Chinese (`错误：…`), exit status 1 (as web.cli.CommandError)."""

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True, file=file)


def _explain(exc: EngineError) -> str:
    fields = getattr(exc, "fields", None) or {}
    details = "；".join(f"{name}：{'，'.join(map(str, problems))}" for name, problems in fields.items())
    return f"{exc}（{details}）" if details else str(exc)


def _district(given: str | None) -> str:
    names = db.session.scalars(select(Jurisdiction.name).where(Jurisdiction.parent_id.is_(None))).all()
    if given:
        if given not in names:
            raise PaymentsError(f"没有名为“{given}”的区县")
        return given
    if len(names) != 1:
        raise PaymentsError("请用 --district 指定区县" + (f"（现有：{'、'.join(names)}）" if names else ""))
    return names[0]


@click.group("payments")
def payments_group():
    """Monthly payment runs (月度发放)."""


@payments_group.command("run")
@click.argument("program")
@click.argument("month")
@click.option("--district", default=None, help="区县名称；只有一个区县时可省略")
@click.option("--batch", type=click.IntRange(100, 1_000_000), default=BATCH_SIZE, show_default=True,
              help="每批写入的发放明细数")
@with_appcontext
def run_command(program: str, month: str, district: str | None, batch: int):
    """Create and compute PROGRAM's run for MONTH (YYYY-MM), or finish / show the existing one."""
    engine = current_app.extensions["jiuzhu.engine"]
    place = _district(district)

    def progress(written: int, expected: int) -> None:
        share = f"{written * 100 // expected}%" if expected else "100%"
        click.echo(f"已写入 {written} / {expected} 条发放明细（{share}）")

    try:
        run, created = create_run(db.session, program=program, district=place, month=month, actor="cli",
                                  now=engine.now(), calendar=engine.calendar, batch_size=batch, on_batch=progress)
    except EngineError as exc:  # InvalidInput, Conflict (a confirmed month), NotFound, Forbidden …
        db.session.rollback()
        raise PaymentsError(_explain(exc)) from exc
    state = "新建" if created else "已存在"
    click.echo(f"发放批次 {run.id}（{run.program} {run.district} {run.month}，{state}）："
               f"{RUN_LABELS[run.status.value]}，截止 {run.due_date.isoformat()}")
    click.echo(f"合计 {run.households} 户，{run.total} 元；区级 {run.by_funding.get('district', '0.00')} 元，"
               f"街乡级 {run.by_funding.get('township', '0.00')} 元")
    for street in run.by_street:
        click.echo(f"  {street['street']}：{street['households']} 户，{street['total']} 元")

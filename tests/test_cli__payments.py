"""`jiuzhu payments run PROGRAM YYYY-MM`: progress per batch, totals, one Chinese line and exit 1 on bad input."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from web.cli_payments import payments_group
from workflows.register.models import Payment, PaymentRun, RunStatus
from workflows.register.payment_runs import confirm

from .test_workflows__payment_runs import NOW, make_recipient, new_run


@pytest.fixture
def households(app, db):
    with app.app_context():
        for i in range(5):
            make_recipient(db.session, amount=f"{1000 + i}.00", street="和平街道" if i < 3 else "安定街道",
                           community="和平里社区" if i < 3 else "安定门社区")
        db.session.commit()
        db.session.remove()


def _run(app, *args):
    return app.test_cli_runner().invoke(payments_group, ["run", *args])


def test_cli_payments__prints_progress_and_totals(app, households):
    result = _run(app, "dibao", "2026-03", "--batch", "100")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "已写入 5 / 5 条发放明细（100%）" in lines
    assert any(line.startswith("发放批次 1（dibao 示范区 2026-03，新建）：待确认") for line in lines)
    assert "合计 5 户，5010.00 元；区级 2505.00 元，街乡级 2505.00 元" in lines
    assert "  安定街道：2 户，2007.00 元" in lines
    again = _run(app, "dibao", "2026-03")
    assert again.exit_code == 0 and "已存在" in again.output


def test_cli_payments__finishes_a_killed_run(app, households):
    with app.app_context():
        from web.extensions import db  # noqa: PLC0415 - the app's session, inside its context

        def killed(written, expected):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            new_run(db.session, batch_size=2, on_batch=killed)
        db.session.rollback()
        assert db.session.scalar(select(PaymentRun.status)) == RunStatus.COMPUTING
        db.session.remove()
    result = _run(app, "dibao", "2026-03", "--batch", "100")
    assert result.exit_code == 0, result.output
    assert "已存在" in result.output and "合计 5 户" in result.output
    with app.app_context():
        from web.extensions import db  # noqa: PLC0415

        assert db.session.scalar(select(func.count()).select_from(Payment)) == 5
        db.session.remove()


@pytest.mark.parametrize("args, message", [
    (["dibao", "2026-13"], "月份格式应为 YYYY-MM"),
    (["dibao", "2027-01"], "不能为下月（2026-04）之后的月份"),
    (["linshi", "2026-03"], "该项目不按月发放"),
    (["dibao", "2026-03", "--district", "没有的区"], "没有名为“没有的区”的区县"),
])
def test_cli_payments__bad_input_is_one_chinese_line(app, households, args, message):
    result = _run(app, *args)
    assert result.exit_code == 1
    assert result.output.count("错误：") == 1 and message in result.output
    assert "Traceback" not in result.output


def test_cli_payments__a_confirmed_month_is_one_chinese_line(app, households):
    """The service refuses with Conflict (not InvalidInput): still one line, exit 1, no traceback."""
    with app.app_context():
        from web.extensions import db  # noqa: PLC0415 - the app's session, inside its context

        run, _ = new_run(db.session)
        confirm(db.session, run, actor="cz_payer", now=NOW)
        db.session.remove()
    result = _run(app, "dibao", "2026-03")
    assert result.exit_code == 1, result.output
    assert result.output.count("错误：") == 1 and "2026-03 的发放已确认" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)  # not an uncaught error

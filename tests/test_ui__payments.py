"""资金发放: finance's page — create a run, totals, confirm, export, results, failures; progress while computing;
the same numbers as the API. Server-side with the test client, and once in Chromium."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from workflows.register.models import Payment

from .conftest import browser_login
from .test_workflows__payment_runs import make_recipient, new_run
from .ui_pages import PageClient


@pytest.fixture
def register(app, db):
    with app.app_context():
        make_recipient(db.session, name="张三", amount="1000.00")
        make_recipient(db.session, name="李四", amount="850.50")
        make_recipient(db.session, name="王五", amount="600.00", street="安定街道", community="安定门社区")
        db.session.commit()
        db.session.remove()


def test_ui_payments__finance_runs_a_month_end_to_end(app, register, login):
    finance = PageClient(app, "cz_payer")
    assert "还没有发放批次" in finance.text("/payments/")
    created = finance.post("/payments/", {"program": "dibao", "month": "2026-03"})
    assert created.status_code == 302
    run_url = created.headers["Location"]
    html = finance.text(run_url)
    run_id = int(run_url.rstrip("/").rsplit("/", 1)[-1])
    api = login("cz_payer").get(f"payment-runs/{run_id}").get_json()
    assert 'data-testid="households">3<' in html and 'data-testid="total">2,450.50<' in html
    assert api["total"] == "2450.50" and "安定街道" in html and "1,225.25" in html
    assert "确认发放批次" in html and "导出银行文件（CSV）" not in html

    finance.post(f"/payments/{run_id}/confirm")
    html = finance.text(run_url)
    assert "导出银行文件（CSV）" in html and 'data-testid="run-status">已确认<' in html
    # The first export changes the run: a GET (a link, an <img> on another site) must not do it.
    assert finance.get(f"/payments/{run_id}/bank-file?format=csv").status_code == 405
    assert finance.post(f"/payments/{run_id}/bank-file", {"format": "csv"}, csrf=False).status_code != 200
    assert 'data-testid="run-status">已确认<' in finance.text(run_url)
    exported = finance.post(f"/payments/{run_id}/bank-file", {"format": "csv"})
    assert exported.status_code == 200 and exported.data.decode("utf-8-sig").splitlines()[-1].startswith("合计,3,")
    assert 'data-testid="run-status">已导出银行文件<' in finance.text(run_url)
    xlsx = finance.post(f"/payments/{run_id}/bank-file", {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"

    with app.app_context():
        from web.extensions import db  # noqa: PLC0415 - the app's session, inside its context

        ids = db.session.scalars(select(Payment.id).order_by(Payment.id)).all()
        db.session.remove()
    bad = f"明细编号,金额,结果,原因\n{ids[0]},999.00,成功,\n".encode()
    response = finance.post(f"/payments/{run_id}/bank-results", {"file": (io.BytesIO(bad), "r.csv")},
                            content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "未导入任何记录" in page and "第 2 行：金额 999.00 与应发金额 1000.00 不符" in page
    for bad, problem in [
        (f"明细编号,金额,结果,原因\r{ids[0]},1000.00,成功,\r²,850.50,成功,\r", "第 3 行：明细编号“²”不是数字"),
        (f"明细编号,金额,结果,原因\n{ids[0]},1000.00,成功,{'x' * 131_073}\n", "第 2 行：字段过长"),
        (f"明细编号,金额,结果,原因\n{ids[0]},1000.00,成功,\n合计,1,sNaN\n", "第 3 行：合计行格式应为"),
    ]:
        response = finance.post(f"/payments/{run_id}/bank-results", {"file": (io.BytesIO(bad.encode()), "r.csv")},
                                content_type="multipart/form-data", follow_redirects=True)
        assert response.status_code == 200 and problem in response.get_data(as_text=True), problem
    good = f"明细编号,金额,结果,原因\n{ids[0]},1000.00,成功,\n{ids[1]},850.50,失败,账户冻结\n".encode()
    page = finance.post(f"/payments/{run_id}/bank-results", {"file": (io.BytesIO(good), "r.csv")},
                        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "成功 1 笔，失败 1 笔，待发放 1 笔" in page and 'data-testid="failures"' in page and "账户冻结" in page
    page = finance.post(f"/payments/{run_id}/failures/{ids[1]}", {"action": "stop", "reason": ""},
                        follow_redirects=True).get_data(as_text=True)
    assert "停发须填写原因" in page
    page = finance.post(f"/payments/{run_id}/failures/{ids[1]}", {"action": "carry", "reason": "已更正账户"},
                        follow_redirects=True).get_data(as_text=True)
    assert "已转入下期发放" in page and 'data-testid="failures"' not in page


def test_ui_payments__a_computing_run_shows_its_progress_and_can_be_finished(app, register):
    with app.app_context():
        from web.extensions import db  # noqa: PLC0415

        def killed(written, expected):
            raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            new_run(db.session, batch_size=1, on_batch=killed)
        db.session.rollback()
        db.session.remove()
    finance = PageClient(app, "cz_payer")
    html = finance.text("/payments/1")
    assert "已写入 <strong>1</strong> / 3 条发放明细" in html and 'http-equiv="refresh"' in html
    finance.post("/payments/1/resume")
    html = finance.text("/payments/1")
    assert 'http-equiv="refresh"' not in html and 'data-testid="households">3<' in html


def test_ui_payments__roles(app, register):
    assert PageClient(app, "supervisor").get("/payments/").status_code == 200
    assert "data-testid=\"create-run\"" not in PageClient(app, "supervisor").text("/payments/")
    clerk = PageClient(app, "jd_heping").get("/payments/")
    assert clerk.status_code == 302
    refused = PageClient(app, "supervisor").post("/payments/", {"program": "dibao", "month": "2026-03"})
    assert refused.status_code == 302 and "/payments" not in refused.headers["Location"]
    bad = PageClient(app, "cz_payer").post("/payments/", {"program": "dibao", "month": "2030-01"},
                                          follow_redirects=True).get_data(as_text=True)
    assert "不能为下月（2026-04）之后的月份" in bad and "还没有发放批次" in bad


@pytest.mark.browser
def test_ui_payments__in_the_browser(page, register, screenshot):
    browser_login(page, "cz_payer")
    page.goto("/payments/")
    page.select_option("select[name=month]", "2026-03")
    page.click("[data-testid=create-run] button[type=submit]")
    page.wait_for_selector("[data-testid=households]")
    assert page.locator("[data-testid=households]").inner_text() == "3"
    assert page.locator("[data-testid=total]").inner_text() == "2,450.50"
    assert page.locator("[data-testid=by-street] tbody tr").count() == 2
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=export-csv]")
    assert page.locator("[data-testid=run-status]").inner_text() == "已确认"
    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    assert download.value.suggested_filename.endswith(".csv")
    page.reload()
    assert page.locator("[data-testid=run-status]").inner_text() == "已导出银行文件"
    assert page.locator("[data-testid=results-form]").count() == 1
    screenshot(page, "payments-run")

"""The bank file (content, masking, control total, first export) and the bank's results (all or nothing)."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import select

from engine.errors import Conflict
from workflows.register.bank_files import ResultFileError, bank_file, import_results, prepare_export
from workflows.register.models import Payment, PaymentRun, PaymentStatus, RunStatus
from workflows.register.payment_runs import confirm

from .test_workflows__payment_runs import NOW, make_recipient, new_run


@pytest.fixture
def session(app, db):
    with app.app_context():
        yield db.session
        db.session.rollback()


def _exported(session, people=(("张三", "1000.00"), ("李四", "850.50"))):
    for name, amount in people:
        make_recipient(session, name=name, amount=amount)
    session.commit()
    run, _ = new_run(session)
    confirm(session, run, actor="cz_payer", now=NOW)
    return prepare_export(session, run, now=NOW)


def _csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _lines(session, run):
    return session.scalars(select(Payment).where(Payment.run_id == run.id).order_by(Payment.id)).all()


def test_bank_files__only_a_confirmed_run_exports(session):
    make_recipient(session)
    session.commit()
    run, _ = new_run(session)
    with pytest.raises(Conflict):
        prepare_export(session, run, now=NOW)
    assert session.get(PaymentRun, run.id).status == RunStatus.DRAFT


def test_bank_files__one_row_per_account_masked_id_and_a_control_total(session):
    run = _exported(session)
    assert run.status == RunStatus.EXPORTED and run.exported_at == NOW
    content, name, _ = bank_file(session, run, "csv")
    rows = _csv_rows(content)
    lines = _lines(session, run)
    assert name.endswith(".csv")
    assert rows[0] == ["序号", "户名", "证件号码", "开户行", "账号", "金额", "明细编号"]
    body = sorted(rows[1:-1], key=lambda r: r[6])
    assert [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in body] == [
        ("张三", "110105********0011", "工商银行", lines[0].account_number, "1000.00", str(lines[0].id)),
        ("李四", "110105********0011", "工商银行", lines[1].account_number, "850.50", str(lines[1].id))]
    assert rows[-1][:2] == ["合计", "2"] and rows[-1][5] == "1850.50"
    assert "110105197001010011" not in content.decode("utf-8-sig")

    data, name, _ = bank_file(session, run, "xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "序号" and values[-1][0] == "合计" and values[-1][1] == 2
    assert Decimal(str(values[-1][5])) == Decimal("1850.5")
    assert {v[4] for v in values[1:-1]} == {line.account_number for line in lines}


def test_bank_files__a_line_without_an_account_fails_at_first_export(session):
    make_recipient(session, account=None)
    run = _exported(session, people=(("王五", "500.00"),))
    statuses = sorted((line.status.value, line.reason or "") for line in _lines(session, run))
    assert statuses == [("failed", "缺少银行账户信息"), ("pending", "")]
    assert _csv_rows(bank_file(session, run, "csv")[0])[-1][:2] == ["合计", "1"]


def _results(*rows: str, header="明细编号,金额,结果,原因") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def test_bank_files__results_settle_lines_and_close_the_run(session):
    run = _exported(session)
    first, second = _lines(session, run)
    summary = import_results(session, run, _results(f"{first.id},1000.00,成功,", f"{second.id},850.50,失败,账户冻结",
                                                    "合计,2,1850.50"), now=NOW)
    assert summary == {"paid": 1, "failed": 1, "pending": 0, "closed": True, "status": "closed"}
    session.expire_all()
    first, second = _lines(session, run)
    assert (first.status, second.status, second.reason) == (PaymentStatus.PAID, PaymentStatus.FAILED, "账户冻结")
    assert session.get(PaymentRun, run.id).status == RunStatus.CLOSED


def test_bank_files__results_by_account(session):
    run = _exported(session)
    first, second = _lines(session, run)
    summary = import_results(session, run, _results(f"{first.account_number},1000.00,paid,",
                                                    header="account,amount,result,reason"), now=NOW)
    assert summary["paid"] == 1 and summary["pending"] == 1 and not summary["closed"]
    assert session.get(PaymentRun, run.id).status == RunStatus.EXPORTED


def test_bank_files__a_bad_file_names_each_line_and_imports_nothing(session):
    run = _exported(session)
    first, second = _lines(session, run)
    bad = _results(f"{first.id},1000.00,成功,",  # fine on its own
                   "6222999999999999,10.00,成功,",  # an account in the line-id column: not a line of this run
                   f"{second.id},850.00,成功,",  # wrong amount
                   f"{first.id},1000.00,失败,重复",  # named twice
                   f"{second.id},850.50,也许,",  # bad result
                   "合计,5,9999.00")
    with pytest.raises(ResultFileError) as error:
        import_results(session, run, bad, now=NOW)
    fields = error.value.fields
    assert set(fields) == {"第 3 行", "第 4 行", "第 5 行", "第 6 行", "第 7 行"}
    assert "不在本批发放中" in fields["第 3 行"][0]
    assert "与应发金额 850.50 不符" in fields["第 4 行"][0]
    assert "与第 2 行重复" in fields["第 5 行"][0]
    assert "结果须为" in fields["第 6 行"][0]
    assert "合计行" in fields["第 7 行"][0]
    session.expire_all()
    assert {line.status for line in _lines(session, run)} == {PaymentStatus.PENDING}

    wrong_account = _results("6222000011112222,1000.00,paid,", header="account,amount,result,reason")
    with pytest.raises(ResultFileError) as unknown:
        import_results(session, run, wrong_account, now=NOW)
    assert unknown.value.fields == {"第 2 行": ["账号 ****2222 不在本批发放中"]}


def test_bank_files__a_settled_line_cannot_be_imported_again(session):
    run = _exported(session)
    first, _ = _lines(session, run)
    import_results(session, run, _results(f"{first.id},1000.00,成功,"), now=NOW)
    with pytest.raises(ResultFileError) as again:
        import_results(session, run, _results(f"{first.id},1000.00,失败,晚到"), now=NOW)
    assert "已处理过" in again.value.fields["第 2 行"][0]
    session.expire_all()
    assert session.get(Payment, first.id).status == PaymentStatus.PAID


def test_bank_files__missing_columns_and_gbk_text(session):
    run = _exported(session)
    with pytest.raises(ResultFileError) as columns:
        import_results(session, run, b"foo,bar\n1,2\n", now=NOW)
    assert "第 1 行" in columns.value.fields
    first, _ = _lines(session, run)
    gbk = f"明细编号,金额,结果,原因\n{first.id},1000.00,失败,户名不符\n".encode("gb18030")
    assert import_results(session, run, gbk, now=NOW)["failed"] == 1
    session.expire_all()
    assert session.get(Payment, first.id).reason == "户名不符"


def test_bank_files__cr_only_line_endings_are_read(session):
    run = _exported(session)
    first, second = _lines(session, run)
    mac = f"明细编号,金额,结果,原因\r{first.id},1000.00,成功,\r{second.id},850.50,失败,账户冻结\r".encode()
    assert import_results(session, run, mac, now=NOW)["closed"] is True
    session.expire_all()
    assert [line.status for line in _lines(session, run)] == [PaymentStatus.PAID, PaymentStatus.FAILED]


@pytest.mark.parametrize("row, line, problem", [
    ("{id},1000.00,成功," + "x" * 131_073, "第 3 行", "字段过长"),  # the csv module's field limit
    ("²,1000.00,成功,", "第 3 行", "明细编号“²”不是数字"),  # isdigit() but not int()
    ("{id},NaN,成功,", "第 3 行", "不是两位小数以内的数字"),
    ("{id},-Infinity,成功,", "第 3 行", "不是两位小数以内的数字"),
    ("合计,1,sNaN", "第 3 行", "合计行格式应为"),  # parses, but comparing it raised InvalidOperation
    ("合计,1,Infinity", "第 3 行", "合计行格式应为"),
    ("合计,²,1000.00", "第 3 行", "合计行格式应为"),
])
def test_bank_files__a_malformed_result_file_names_the_line_and_imports_nothing(session, row, line, problem):
    run = _exported(session)
    first, second = _lines(session, run)
    content = _results(f"{first.id},1000.00,成功,", row.format(id=second.id))
    with pytest.raises(ResultFileError) as error:
        import_results(session, run, content, now=NOW)
    assert problem in " ".join(error.value.fields[line])
    session.expire_all()
    assert {line.status for line in _lines(session, run)} == {PaymentStatus.PENDING}
    assert session.get(PaymentRun, run.id).status == RunStatus.EXPORTED


def test_bank_files__text_that_looks_like_a_formula_stays_text(session):
    recipient = make_recipient(session, name="=HYPERLINK(\"http://x\",\"y\")")
    recipient.bank_name = "@SUM(1+1)"
    make_recipient(session, name="-2+3")
    run = _exported(session, people=(("张三", "850.50"),))
    content = bank_file(session, run, "csv")[0]
    body = {row[6]: row for row in _csv_rows(content)[1:-1]}
    names = sorted(row[1] for row in body.values())
    assert names == ["'-2+3", "'=HYPERLINK(\"http://x\",\"y\")", "张三"]
    assert "'@SUM(1+1)" in {row[3] for row in body.values()}

    data = bank_file(session, run, "xlsx")[0]
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    formula = next(cell for cell in cells if cell.value == "=HYPERLINK(\"http://x\",\"y\")")
    assert formula.data_type == "s"  # a string cell: Excel shows it, never evaluates it
    assert "@SUM(1+1)" in {cell.value for cell in cells} and "-2+3" in {cell.value for cell in cells}
    assert not [cell for cell in cells if cell.data_type == "f"]


def test_bank_files__xlsx_amounts_are_decimals_never_floats(session, monkeypatch):
    """Money never passes through float in our code: the sheet is handed Decimal amounts (openpyxl writes them as
    numbers, with up to 16 significant digits — exact for NUMERIC(12,2))."""
    run = _exported(session)
    appended: list[list] = []
    original = WriteOnlyWorksheet.append

    def spy(sheet, row):
        appended.append([getattr(value, "value", value) for value in row])
        return original(sheet, row)

    monkeypatch.setattr(WriteOnlyWorksheet, "append", spy)
    data = bank_file(session, run, "xlsx")[0]
    amounts = [row[5] for row in appended[1:]]
    assert sorted(amounts) == [Decimal("850.50"), Decimal("1000.00"), Decimal("1850.50")]
    assert all(isinstance(value, Decimal) for value in amounts)
    assert not [value for row in appended for value in row if isinstance(value, float)]
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.cell(row=4, column=6).data_type == "n" and sheet.cell(row=4, column=6).value == 1850.5

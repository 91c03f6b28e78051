"""资金发放: finance's page of monthly payment runs — create a run (with its progress while it computes), totals by
street and funding source, confirm, the bank file (CSV/xlsx), the bank's results, and the failed lines to carry or
stop. Every action calls the same service as the API (workflows.register.payment_runs / bank_files).

A large run is computed in a background thread so the page can show its progress (it refreshes itself while the run
is computing); should that thread die with its process, "继续计算" finishes the run (nothing is written twice).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.clock import SHANGHAI
from engine.errors import EngineError, InvalidInput
from workflows.models import User
from workflows.programs import PROGRAMS
from workflows.register import bank_files
from workflows.register.models import PaymentStatus, RunStatus
from workflows.register.months import month_of, next_month
from workflows.register.payment_runs import (
    LINE_LABELS,
    PAYABLE_PROGRAMS,
    RUN_LABELS,
    LineFilter,
    compute_or_start,
    confirm,
    create_run,
    get_run,
    handle_failure,
    list_runs,
    run_dict,
    run_lines,
)

from ..downloads import generated_file
from ..engine_access import engine
from ..extensions import db
from .common import page_user, roles_required

bp = Blueprint("payments_ui", __name__, url_prefix="/payments")

READ_ROLES = ("finance_officer", "district_approver", "supervisor")  # and admin
WRITE_ROLES = ("finance_officer",)
LINES_PER_PAGE = 100


def _district(user: User) -> str | None:
    return None if user.role == "admin" else (user.district or "")


def _flash_error(exc: EngineError) -> None:
    db.session.rollback()
    flash(str(exc), "error")
    for where, problems in (getattr(exc, "fields", None) or {}).items():
        for problem in problems:
            flash(f"{where}：{problem}", "error")


def _back(run_id: int | None = None):
    return redirect(url_for("payments_ui.show", run_id=run_id) if run_id else url_for("payments_ui.index"))


@bp.get("/")
@roles_required(*READ_ROLES)
def index():
    """The runs of the user's district, newest month first, and the form to create one."""
    user = page_user()
    _total, runs = list_runs(db.session, district=_district(user), limit=200)
    this_month = month_of(engine().now().astimezone(SHANGHAI).date())
    return render_template("payments/index.html", runs=runs, labels=RUN_LABELS,
                           programs=[(key, PROGRAMS[key].name) for key in PAYABLE_PROGRAMS],
                           months=[this_month, next_month(this_month)],
                           can_write=user.role in WRITE_ROLES or user.role == "admin",
                           needs_district=user.role == "admin")


@bp.post("/")
@roles_required(*WRITE_ROLES)
def create():
    """新建发放批次: the run of a program and month (or the existing one)."""
    user = page_user()
    program, month = request.form.get("program", ""), request.form.get("month", "")
    district = (request.form.get("district") or "").strip() if user.role == "admin" else user.district
    if not district:
        flash("请填写区县", "error")
        return _back()
    try:
        run, created = create_run(db.session, program=program, district=district, month=month,
                                  actor=user.username, now=engine().now(), calendar=engine().calendar,
                                  compute_now=False)
    except EngineError as exc:
        _flash_error(exc)
        return _back()
    if run.status == RunStatus.COMPUTING:
        compute_or_start(db.session, run)
    flash("发放批次已创建" if created else "该月发放批次已存在", "success" if created else "info")
    return _back(run.id)


@bp.get("/<int:run_id>")
@roles_required(*READ_ROLES)
def show(run_id: int):
    """One run: totals, progress, confirm / export / results, failures, lines."""
    user = page_user()
    run = get_run(db.session, run_id, _district(user))
    status = request.args.get("status") or None
    if status not in {s.value for s in PaymentStatus}:
        status = None
    street = request.args.get("street") or None
    total, lines = run_lines(db.session, run, LineFilter(status=status, street=street), limit=LINES_PER_PAGE)
    _failed_total, failures = run_lines(db.session, run, LineFilter(status="failed"), limit=LINES_PER_PAGE)
    return render_template("payments/show.html", run=run, info=run_dict(db.session, run), labels=RUN_LABELS,
                           line_labels=LINE_LABELS, lines=lines, lines_total=total, failures=failures,
                           status=status, street=street, per_page=LINES_PER_PAGE,
                           can_write=user.role in WRITE_ROLES or user.role == "admin")


@bp.post("/<int:run_id>/resume")
@roles_required(*WRITE_ROLES)
def resume(run_id: int):
    """继续计算: finish a run whose computing stopped (a killed process)."""
    run = get_run(db.session, run_id, _district(page_user()))
    if run.status == RunStatus.COMPUTING:
        compute_or_start(db.session, run)
    return _back(run_id)


@bp.post("/<int:run_id>/confirm")
@roles_required(*WRITE_ROLES)
def confirm_run(run_id: int):
    run = get_run(db.session, run_id, _district(page_user()))
    try:
        confirm(db.session, run, actor=page_user().username, now=engine().now())
    except EngineError as exc:
        _flash_error(exc)
    else:
        flash("发放批次已确认，可以导出银行文件", "success")
    return _back(run_id)


@bp.post("/<int:run_id>/bank-file")
@roles_required(*WRITE_ROLES)
def bank_file(run_id: int):
    """导出银行文件: a POST form with the CSRF token, not a link — the first export changes the run (exported, lines
    without an account failed), which a GET from another site must not be able to do. The file is the answer."""
    fmt = "xlsx" if request.form.get("format") == "xlsx" else "csv"
    run = get_run(db.session, run_id, _district(page_user()))
    try:
        run = bank_files.prepare_export(db.session, run, now=engine().now())
    except EngineError as exc:
        _flash_error(exc)
        return _back(run_id)
    content, filename, mimetype = bank_files.bank_file(db.session, run, fmt)
    return generated_file(content, filename, mimetype)


@bp.post("/<int:run_id>/bank-results")
@roles_required(*WRITE_ROLES)
def bank_results(run_id: int):
    run = get_run(db.session, run_id, _district(page_user()))
    upload = request.files.get("file")
    content = upload.read() if upload is not None else b""
    try:
        if not content:
            raise InvalidInput("请选择银行结果文件（CSV）")
        summary = bank_files.import_results(db.session, run, content, now=engine().now())
    except EngineError as exc:
        _flash_error(exc)
    else:
        flash(f"已导入银行结果：成功 {summary['paid']} 笔，失败 {summary['failed']} 笔，待发放 {summary['pending']} 笔"
              + ("；本批次已结束" if summary["closed"] else ""), "success")
    return _back(run_id)


@bp.post("/<int:run_id>/failures/<int:payment_id>")
@roles_required(*WRITE_ROLES)
def failure(run_id: int, payment_id: int):
    run = get_run(db.session, run_id, _district(page_user()))
    action = request.form.get("action", "")
    try:
        handle_failure(db.session, run, payment_id, action=action, reason=request.form.get("reason"),
                       now=engine().now())
    except EngineError as exc:
        _flash_error(exc)
    else:
        flash("已转入下期发放" if action == "carry" else "已停发", "success")
    return _back(run_id)

"""Monthly payment runs (月度发放) through the API: create (or answer) a run, read it and its lines, confirm, the bank
file, the bank's results, and what becomes of failed lines.

Finance (`finance_officer`) works on the runs of its own district; supervisors may read them (overdue runs are
escalated to them); admins see every district. The services are in workflows.register.payment_runs and
workflows.register.bank_files — the 发放 page (web.ui.payments) calls the same functions.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields, validate

from engine.errors import Forbidden, InvalidInput
from workflows.models import User
from workflows.register import bank_files
from workflows.register.models import PaymentStatus, RunStatus
from workflows.register.payment_runs import (
    FAILURE_ACTIONS,
    LineFilter,
    compute_or_start,
    confirm,
    create_run,
    get_run,
    handle_failure,
    line_dict,
    list_runs,
    run_dict,
    run_lines,
)

from ..auth import current_user, page_username, roles_required
from ..downloads import generated_file
from ..extensions import db
from .common import API_PREFIX, doc, engine, json_body, load, query

bp = Blueprint("api_payments", __name__, url_prefix=API_PREFIX)

WRITE_ROLES = ("finance_officer",)  # and admin
READ_ROLES = ("finance_officer", "supervisor")


class CreateRunBody(Schema):
    program = fields.String(required=True, metadata={"description": "dibao or tekun"})
    # Exactly 7 characters before the pattern is even looked at: "2024-12\n" must never name a second month.
    month = fields.String(required=True, validate=validate.Length(equal=7, error="月份格式应为 YYYY-MM"),
                          metadata={"description": "YYYY-MM, at most next month"})
    district = fields.String(load_default=None, validate=validate.Length(max=50),
                             metadata={"description": "admins only (finance always works in its own district)"})


class RunsQuery(Schema):
    program = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in RunStatus]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9))


class LinesQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in PaymentStatus]))
    street = fields.String(load_default=None, validate=validate.Length(max=50))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**9))


class BankFileQuery(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))


class FailureBody(Schema):
    action = fields.String(required=True, validate=validate.OneOf(FAILURE_ACTIONS),
                           metadata={"description": "carry: paid by the next run; stop: not paid (reason needed)"})
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


def reader_district(user: User) -> str | None:
    """The district whose runs the user sees; None for admins (every district)."""
    if user.role == "admin":
        return None
    if not user.district:
        raise Forbidden("当前用户未设定所属区县，无权查看发放批次")
    return user.district


def creating_district(user: User, requested: str | None) -> str:
    """The district a new run is for: finance's own; an admin names one."""
    if user.role == "admin":
        if not requested:
            raise InvalidInput("请指定区县", {"district": ["管理员创建发放批次须指定区县"]})
        return requested
    own = reader_district(user)
    if requested and requested != own:
        raise Forbidden("只能为本区县创建发放批次")
    return own  # type: ignore[return-value]


def _run(run_id: int):
    return get_run(db.session, run_id, reader_district(current_user()))


def results_content() -> bytes:
    """The uploaded result file: multipart field `file`, or the raw request body (text/csv)."""
    upload = request.files.get("file")
    content = upload.read() if upload is not None else (request.get_data() if not request.files else b"")
    if not content:
        raise InvalidInput("请上传银行结果文件", {"file": ["请上传银行结果文件（CSV）"]})
    return content


@bp.post("/payment-runs")
@roles_required(*WRITE_ROLES)
@doc(body=CreateRunBody, tag="payments",
     responses={201: "created and computed", 200: "the existing run (computing or draft)",
                409: "that month is already confirmed"})
def create():
    """Create and compute the run of a program for a month in the user's district, or answer the existing one
    (a run left half-computed is finished first)."""
    body = load(CreateRunBody(), json_body())
    user = current_user()
    district = creating_district(user, body["district"])
    run, created = create_run(db.session, program=body["program"], district=district, month=body["month"],
                              actor=user.username, now=engine().now(), calendar=engine().calendar,
                              compute_now=False)
    compute_or_start(db.session, run)  # a large run computes in the background: its progress shows on GET
    return jsonify(run_dict(db.session, run)), 201 if created else 200


@bp.get("/payment-runs")
@roles_required(*READ_ROLES)
@doc(params=RunsQuery, tag="payments")
def runs():
    """The payment runs of the user's district, newest month first."""
    q = query(RunsQuery())
    total, rows = list_runs(db.session, district=reader_district(current_user()), program=q["program"],
                            status=q["status"], limit=q["limit"], offset=q["offset"])
    return jsonify({"total": total, "limit": q["limit"], "offset": q["offset"],
                    "items": [run_dict(db.session, run, with_progress=False) for run in rows]})


@bp.get("/payment-runs/<int:run_id>")
@roles_required(*READ_ROLES)
@doc(tag="payments")
def show(run_id: int):
    """One run: status, totals by street and funding source, line counts, progress while it computes."""
    return jsonify(run_dict(db.session, _run(run_id)))


@bp.get("/payment-runs/<int:run_id>/payments")
@roles_required(*READ_ROLES)
@doc(params=LinesQuery, tag="payments")
def payments(run_id: int):
    """The run's payment lines, paged, filtered by status (e.g. failed) and street."""
    q = query(LinesQuery())
    run = _run(run_id)
    total, items = run_lines(db.session, run, LineFilter(status=q["status"], street=q["street"]), limit=q["limit"],
                             offset=q["offset"])
    return jsonify({"total": total, "limit": q["limit"], "offset": q["offset"], "items": items})


@bp.post("/payment-runs/<int:run_id>/confirm")
@roles_required(*WRITE_ROLES)
@doc(tag="payments")
def confirm_run(run_id: int):
    """Finance confirms a draft run (who and when are recorded); only then can the bank file be exported."""
    run = confirm(db.session, _run(run_id), actor=current_user().username, now=engine().now())
    return jsonify(run_dict(db.session, run))


@bp.get("/payment-runs/<int:run_id>/bank-file")
@roles_required(*WRITE_ROLES)
@doc(params=BankFileQuery, tag="payments",
     responses={200: "text/csv or .xlsx", 409: "the run is not confirmed yet",
                403: "first export with the page's session cookie (use the page's POST)"})
def bank_file(run_id: int):
    """The bank file of a confirmed run (one row per account, masked ID, control total). Not a safe GET: the first
    export marks the run exported and fails its lines without an account. The API keeps GET for its clients' bearer
    tokens (which a link from another site cannot send); the 发放 page exports with a CSRF-protected POST."""
    q = query(BankFileQuery())
    run = _run(run_id)
    # A browser sends the page's session cookie even on a link from another site; only a bearer token (or the
    # page's CSRF-protected POST) may make the first, state-changing export.
    if run.status == RunStatus.CONFIRMED and page_username() is not None:
        raise Forbidden("请在资金发放页面导出银行文件（首次导出会改变批次状态）")
    run = bank_files.prepare_export(db.session, run, now=engine().now())
    content, filename, mimetype = bank_files.bank_file(db.session, run, q["format"])
    return generated_file(content, filename, mimetype)


@bp.post("/payment-runs/<int:run_id>/bank-results")
@roles_required(*WRITE_ROLES)
@doc(tag="payments", responses={200: "imported", 422: "problems per line, nothing imported"})
def bank_results(run_id: int):
    """Import the bank's result file (CSV body or multipart `file`): all lines or none."""
    run = _run(run_id)
    summary = bank_files.import_results(db.session, run, results_content(), now=engine().now())
    return jsonify(dict(summary, run=run_dict(db.session, run)))


@bp.post("/payment-runs/<int:run_id>/failures/<int:payment_id>")
@roles_required(*WRITE_ROLES)
@doc(body=FailureBody, tag="payments")
def failure(run_id: int, payment_id: int):
    """Decide a failed line: carry it into the next run (same month's amount) or stop it with a reason."""
    body = load(FailureBody(), json_body())
    line = handle_failure(db.session, _run(run_id), payment_id, action=body["action"], reason=body["reason"],
                          now=engine().now())
    return jsonify(line_dict(line))

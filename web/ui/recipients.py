"""The register page (保障对象台账): filters, pages, Excel export, one recipient's history, and the standards page
(preview a new standard, then apply it). The same services as the API: workflows.register.queries / standards."""
from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from engine.errors import Conflict, InvalidInput
from workflows import access
from workflows.idcard import mask_name
from workflows.models import Jurisdiction
from workflows.programs import PROGRAMS
from workflows.register import queries, standards
from workflows.register.events import EVENT_ROLES, EVENT_TYPES, record_event
from workflows.register.register_export import AREA_NAMES, STATUS_NAMES, register_filename, register_workbook
from workflows.register.review_schedule import CATEGORY_NAMES

from ..engine_access import engine
from ..extensions import db
from ..spreadsheet import xlsx_response
from .common import login_required, page_user
from .labels import register_filters

bp = Blueprint("register_ui", __name__, url_prefix="/recipients")
register_filters(bp)

PAGE_SIZE = 20
CHANGE_KINDS = {"approved": "审批纳入", "standard": "标准调整", "review": "复核", "event": "事件", "exit": "渐退",
                "stop": "停保", "suspend": "暂停", "resume": "恢复", "exit_end": "渐退期满停保",
                "labour_cut": "拒绝公益劳动扣减", "labour_restored": "恢复成员份额"}
PAYMENT_STATUS = {"pending": "待发放", "paid": "已发放", "failed": "发放失败", "carried": "已转下期", "stopped": "已终止"}
REVIEW_STATUS = {"open": "进行中", "done": "已完成", "cancelled": "已取消"}
TOPUP_NAMES = {"elderly": "老年人", "minor": "未成年人", "severe_disability": "重度残疾", "serious_illness": "重病"}
MONTHLY_PROGRAMS = ("dibao", "tekun")
LABELS = {"STATUS_NAMES": STATUS_NAMES, "AREA_NAMES": AREA_NAMES, "CATEGORY_NAMES": CATEGORY_NAMES,
          "CHANGE_KINDS": CHANGE_KINDS, "PAYMENT_STATUS": PAYMENT_STATUS, "REVIEW_STATUS": REVIEW_STATUS,
          "TOPUP_NAMES": TOPUP_NAMES, "mask": mask_name}
# The history macros (recipients/_history.html) are also used on the case page, which passes none of these.
bp.add_app_template_global(LABELS, "REGISTER_LABELS")


def _filter() -> tuple[queries.RegisterFilter, dict]:
    """The filters from the query string; a value that is not one of the choices is dropped, not an error."""
    args = request.args
    month = (args.get("month") or "").strip()[:7]
    try:
        flt = queries.RegisterFilter(
            program=args.get("program") if args.get("program") in PROGRAMS else None,
            street=(args.get("street") or "")[:50] or None,
            status=args.get("status") if args.get("status") in STATUS_NAMES else None,
            month=month or None, q=(args.get("q") or "").strip()[:50] or None).check()
    except InvalidInput as exc:
        flash("；".join(m for ms in exc.fields.values() for m in ms), "error")
        flt = queries.RegisterFilter(program=args.get("program") if args.get("program") in PROGRAMS else None)
    shown = {k: v for k, v in {"program": flt.program, "street": flt.street, "status": flt.status,
                               "month": flt.month, "q": flt.q}.items() if v}
    return flt, shown


def _streets(user) -> list[str]:
    if access.level_of(user) in ("street", "community") and user.role != "admin":
        return []
    return list(db.session.scalars(select(Jurisdiction.name).where(Jurisdiction.level == "street")
                                   .order_by(Jurisdiction.id)))


@bp.get("")
@login_required
def index():
    """The register in my jurisdiction: filters (program, street, status, month), pages, export."""
    user = page_user()
    flt, shown = _filter()
    page_text = request.args.get("page", "1")
    page = max(1, min(int(page_text), 10_000)) if page_text.isdecimal() else 1
    total = queries.count_recipients(db.session, user, flt)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page, pages)
    rows = queries.list_recipients(db.session, user, flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("recipients/index.html", rows=rows, total=total, page=page, pages=pages, filters=shown,
                           streets=_streets(user), programs=[(k, PROGRAMS[k].name) for k in MONTHLY_PROGRAMS],
                           can_see_standards=user.role in standards.PREVIEW_ROLES, **LABELS)


@bp.get("/export.xlsx")
@login_required
def export():
    """The register with the same filters as an Excel workbook."""
    user = page_user()
    flt, shown = _filter()
    now = engine().now()
    title = "保障对象台账" + (f"（{flt.month}）" if flt.month else "")
    data = register_workbook(queries.iter_recipients(db.session, user, flt), title=title, as_of=now)
    return xlsx_response(data, register_filename(now), ascii_name="register.xlsx")


@bp.get("/<int:recipient_id>")
@login_required
def show(recipient_id: int):
    """One recipient: household, amount with its breakdown, amount changes, payments and reviews."""
    user = page_user()
    recipient = queries.get_recipient(db.session, user, recipient_id)
    can_record = user.role in EVENT_ROLES and recipient.status.value != "stopped"
    return render_template("recipients/show.html", r=recipient,
                           detail=queries.recipient_detail(db.session, recipient), can_record=can_record,
                           EVENT_TYPES=EVENT_TYPES, **LABELS)


@bp.post("/<int:recipient_id>/events")
@login_required
def record(recipient_id: int):
    """登记家庭事件: the same service as POST /api/v1/recipients/{id}/events; a review it starts is named."""
    form = request.form
    payload = {"type": form.get("type") or "", "note": form.get("note") or None}
    if form.get("member"):
        payload["member"] = form.get("member")
    eng = engine()
    try:
        answer = record_event(db.session, eng, recipient_id, payload, page_user(), eng.now())
    except (InvalidInput, Conflict) as exc:
        db.session.rollback()
        fields = getattr(exc, "fields", {}) or {}
        detail = "；".join(f"{'、'.join(m) if isinstance(m, list) else m}" for m in fields.values())
        flash(f"{exc}{'：' + detail if detail else ''}", "error")
        return redirect(url_for("register_ui.show", recipient_id=recipient_id))
    message = f"已登记：{EVENT_TYPES[answer['type']]}"
    if answer.get("review"):
        message += f"；已启动复核，须于 {answer['review']['due_date']} 前完成"
    flash(message, "success")
    return redirect(url_for("register_ui.show", recipient_id=recipient_id))


def _standards_page(form: dict | None = None, errors: dict | None = None, preview: dict | None = None,
                    status: int = 200):
    user = page_user()
    return render_template(
        "recipients/standards.html",
        items=[standards.standard_item(r) for r in standards.list_standards(db.session, user)],
        form=form or {"program": "dibao", "area": "urban"}, errors=errors or {}, preview=preview,
        can_preview=user.role in standards.PREVIEW_ROLES, can_apply=user.role in standards.APPLY_ROLES,
        programs=[(k, PROGRAMS[k].name) for k in MONTHLY_PROGRAMS], **LABELS), status


def _proposal_from_form() -> dict:
    form = request.form
    body = {name: (form.get(name) or "").strip() for name in ("program", "area", "amount", "effective_month",
                                                              "district", "district_share")}
    return {k: v for k, v in body.items() if v}


@bp.get("/standards")
@login_required
def standards_page():
    """The local standards of my district; a form to preview a new one and then apply it."""
    return _standards_page()


@bp.post("/standards/preview")
@login_required
def standards_preview():
    """Preview a new standard: the affected households with old and new amounts (nothing is written)."""
    body = _proposal_from_form()
    try:
        preview = standards.preview_standard(db.session, page_user(), body, engine().now())
    except InvalidInput as exc:
        return _standards_page(body, exc.fields, status=422)
    return _standards_page(body, preview=preview)


@bp.post("/standards")
@login_required
def standards_apply():
    """Apply the previewed standard: every affected household is recomputed with an audited change."""
    body = _proposal_from_form()
    try:
        result = standards.apply_standard(db.session, page_user(), body, engine().now())
    except InvalidInput as exc:
        return _standards_page(body, exc.fields, status=422)
    flash(f"已调整保障标准：{result['households']} 户自 {result['standard']['effective_month']} 起重新核定金额", "success")
    return redirect(url_for("register_ui.standards_page"))

"""The public notice (公示) of a community: readable without logging in, objections through a CSRF-protected form.

Shown per case: the name with masked characters, household size, program, the proposed monthly amount and the
notice period — never an ID number, a phone number, income or household details (DOMAIN.md: 公示). An objection
is recorded through the same engine call as POST /cases/{id}/objections: the BPMN message ``objection.lodged``.
"""
from __future__ import annotations

import time
from collections import defaultdict, deque

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from engine.errors import Conflict, NotFound
from engine.models import ProcessInstance
from workflows.cases import streets_with_communities
from workflows.idcard import mask_name
from workflows.models import Case, CaseStatus, Jurisdiction

from ..engine_access import engine
from ..extensions import db
from .common import page_user
from .labels import register_filters

bp = Blueprint("notice", __name__, url_prefix="/notice")
register_filters(bp)

NOTICE_STAGE = "公示中"
OBJECTION_MESSAGE = "objection.lodged"


def _in_notice_filter(now):
    return (Case.status == CaseStatus.IN_PROGRESS, Case.stage.contains(NOTICE_STAGE), Case.notice_until > now)


def _waits_for_objection(case: Case) -> bool:
    if case.process_instance_id is None or case.status != CaseStatus.IN_PROGRESS:
        return False
    instance = db.session.get(ProcessInstance, case.process_instance_id)
    return instance is not None and any(w.get("type") == "message" and w.get("name") == OBJECTION_MESSAGE
                                        for w in instance.waiting or [])


def _public_row(case: Case) -> dict:
    # Only what a notice may show; the template never sees the case row itself. No step runs during the notice,
    # so the case row was last touched when the notice began.
    start = min(case.updated_at, case.notice_until) if case.notice_until else case.updated_at
    return {"id": case.id, "name": mask_name(case.applicant_name), "program": case.program,
            "household_size": case.household_size, "amount": case.proposed_amount, "from": start,
            "until": case.notice_until}


def _community(community_id: int) -> tuple[Jurisdiction, Jurisdiction]:
    community = db.session.get(Jurisdiction, community_id)
    if community is None or community.level != "community":
        raise NotFound("社区不存在")
    street = db.session.get(Jurisdiction, community.parent_id)
    if street is None:
        raise NotFound("社区不存在")
    return street, community


@bp.get("")
def index():
    """Communities with the number of cases in public notice."""
    now = engine().now()
    counts = dict(db.session.execute(
        select(Case.community, func.count()).where(*_in_notice_filter(now)).group_by(Case.community)
    ).all())
    tree = [(street, [(c, counts.get(c.name, 0)) for c in communities])
            for _district, street, communities in streets_with_communities(db.session)]
    return render_template("notice/index.html", tree=tree, user=page_user())


@bp.get("/<int:community_id>")
def community(community_id: int):
    """The notice board of one community."""
    street, place = _community(community_id)
    now = engine().now()
    cases = db.session.scalars(
        select(Case).where(*_in_notice_filter(now), Case.street == street.name, Case.community == place.name)
        .order_by(Case.notice_until, Case.id)
    ).all()
    return render_template("notice/community.html", street=street, community=place,
                           rows=[_public_row(c) for c in cases], now=now, user=page_user())


def _notice_case(case_id: int) -> tuple[Case, Jurisdiction | None]:
    case = db.session.get(Case, case_id)
    now = engine().now()
    # Outside its notice a case is not public at all: it answers like a missing one.
    if case is None or not (case.status == CaseStatus.IN_PROGRESS and case.notice_until and case.notice_until > now
                            and NOTICE_STAGE in (case.stage or "")):
        raise NotFound("该公示不存在或已结束")
    street = db.session.scalars(select(Jurisdiction).where(Jurisdiction.level == "street",
                                                           Jurisdiction.name == case.street)).first()
    place = db.session.scalars(select(Jurisdiction).where(Jurisdiction.parent_id == street.id,
                                                          Jurisdiction.name == case.community)).first() \
        if street else None
    return case, place


# Anonymous objections are throttled per address: a public form must not let one sender flood the street office
# with re-investigations. Per process, in memory — enough to stop a script, not meant as an audit record.
OBJECTIONS_PER_WINDOW = 5
OBJECTION_WINDOW_SECONDS = 600.0
_recent_objections: dict[str, deque[float]] = defaultdict(deque)


def _objections_allowed(address: str) -> bool:
    now = time.monotonic()
    recent = _recent_objections[address]
    while recent and now - recent[0] > OBJECTION_WINDOW_SECONDS:
        recent.popleft()
    if len(recent) >= OBJECTIONS_PER_WINDOW:
        return False
    recent.append(now)
    if len(_recent_objections) > 10_000:
        _recent_objections.clear()
    return True


@bp.route("/cases/<int:case_id>/objection", methods=["GET", "POST"])
def objection(case_id: int):
    """Lodge an objection (异议) to a case in public notice; the case goes back to re-investigation."""
    case, place = _notice_case(case_id)
    values = {"reason": "", "reporter": "", "contact": ""}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = {k: (request.form.get(k) or "").strip() for k in values}
        if len(values["reason"]) < 2:
            errors["reason"] = ["请说明异议的具体内容（至少 2 个字）"]
        elif len(values["reason"]) > 2000:
            errors["reason"] = ["不能超过 2000 字"]
        for name in ("reporter", "contact"):
            if len(values[name]) > 100:
                errors[name] = ["不能超过 100 字"]
        if not errors and page_user() is None and not _objections_allowed(request.remote_addr or "-"):
            errors["_form"] = ["提交过于频繁，请稍后再试或到社区居委会当面反映"]
            return render_template("notice/objection.html", row=_public_row(case), community=place,
                                   values=values, errors=errors, user=None), 429
        if not errors and not _waits_for_objection(case):
            errors["_form"] = ["该案件已不在公示期，无法提出异议"]
        if not errors:
            user = page_user()
            actor = user.username if user is not None else "public"
            try:
                engine().send_message(case.process_instance_id, OBJECTION_MESSAGE, {
                    "reason": values["reason"], "reporter": values["reporter"] or None,
                    "contact": values["contact"] or None, "recorded_by": actor, "channel": "公示页面"},
                    actor=actor)
            except Conflict:
                errors["_form"] = ["该案件已不在公示期，无法提出异议"]
            else:
                flash("您的异议已提交，街道将重新调查核实。感谢您的监督！", "success")
                return redirect(url_for("notice.community", community_id=place.id) if place
                                else url_for("notice.index"))
        status = 422 if errors.get("_form") is None else 409
    return render_template("notice/objection.html", row=_public_row(case), community=place, values=values,
                           errors=errors, user=page_user()), status

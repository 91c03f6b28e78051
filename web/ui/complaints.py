"""The public complaint page (投诉举报): readable and usable without logging in, a CSRF-protected form like the
public notice's objection form. It lodges through the same service function as POST /complaints
(workflows.complaints.intake.submit: the same role check, throttling and answers), and shows the reference number
to quote afterwards — never the ID number, and the same whether or not the household is known. A logged-in street
or community worker using it records a staff complaint."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.errors import Forbidden, InvalidInput
from workflows.complaints import intake

from ..auth import source_address
from ..engine_access import engine
from ..extensions import db
from .common import page_user

bp = Blueprint("complaints_ui", __name__, url_prefix="/complaints")

FIELDS = ("household_id_number", "case_id", "text", "reporter", "contact")


def _payload(values: dict) -> dict:
    payload: dict = {k: values[k] or None for k in ("household_id_number", "text", "reporter", "contact")}
    case_id = values["case_id"]
    if case_id:
        payload["case_id"] = int(case_id) if case_id.isascii() and case_id.isdigit() and len(case_id) < 19 \
            else case_id  # not a number: the schema says so, per field
    return payload


def _render(values, errors, status=200):
    return render_template("complaints/new.html", values=values, errors=errors, user=page_user()), status


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Report a household suspected of obtaining assistance it is not entitled to (投诉举报)."""
    values = {k: "" for k in FIELDS}
    if request.method == "GET":
        return _render(values, {})
    values = {k: (request.form.get(k) or "").strip() for k in FIELDS}
    try:
        complaint = intake.submit(db.session, engine(), _payload(values), user=page_user(), source=source_address())
    except intake.TooManySubmissions as exc:
        db.session.rollback()
        return _render(values, {"_form": [str(exc)]}, 429)
    except InvalidInput as exc:
        db.session.rollback()
        return _render(values, exc.fields or {"_form": [str(exc)]}, 422)
    except Forbidden as exc:
        db.session.rollback()
        return _render(values, {"_form": [str(exc)]}, 403)
    return render_template("complaints/done.html", reference=complaint.reference, user=page_user()), 201

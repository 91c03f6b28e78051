"""The application form (申请): community workers and street clerks open a case for an applicant household.

Goes through the same service as POST /cases (`workflows.cases.open_case`): ID numbers are checked (18 digits,
checksum), the place must be in the user's jurisdiction, and the program's process starts.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.errors import Forbidden, InvalidInput, NotFound
from workflows import access, program_details
from workflows.cases import open_case, streets_with_communities
from workflows.idcard import birth_date_of
from workflows.programs import PROGRAMS

from ..engine_access import engine
from ..extensions import db
from .common import page_user, roles_required
from .form_parsing import flatten_errors, parse_member_rows
from .labels import register_filters

bp = Blueprint("apply", __name__, url_prefix="/apply")
register_filters(bp)


def _places(user, program: str | None = None) -> list[tuple[str, list[str]]]:
    """(street, communities) the user may open cases in (for an agency officer: cases of a program it leads)."""
    out = []
    for district, street, communities in streets_with_communities(db.session):
        allowed = [c.name for c in communities
                   if access.can_open_case(user, street.name, c.name, district, program)]
        if allowed:
            out.append((street.name, allowed))
    return out


def _payload(form) -> tuple[dict, list[dict]]:
    rows = parse_member_rows(form)
    members = []
    for row in rows:
        member = {k: row[k] for k in ("name", "id_number", "relation", "work_capacity") if row.get(k)}
        birth = row.get("birth_date")
        if not birth and row.get("id_number"):
            try:
                birth = birth_date_of(row["id_number"]).isoformat()
            except ValueError:
                birth = None
        if birth:
            member["birth_date"] = birth
        if row.get("disability_grade"):
            grade = row["disability_grade"]
            member["disability_grade"] = int(grade) if grade.isdecimal() else grade
        member["serious_illness"] = row.get("serious_illness") in ("1", "on", "true")
        members.append(member)
    assets: dict = {}
    for name in ("savings", "vehicles"):
        text = (form.get(f"assets.{name}") or "").strip().replace(",", "")
        if text:
            try:
                assets[name] = float(text) if name == "savings" else int(text)
            except ValueError:
                assets[name] = text
    note = (form.get("assets.note") or "").strip()
    if note:
        assets["note"] = note[:500]
    income = (form.get("household.monthly_income") or "").strip().replace(",", "")
    household: dict = {"members": members, "assets": assets}
    if income:
        household["monthly_income"] = income
    applicant = {k: (form.get(f"applicant.{k}") or "").strip() for k in ("name", "id_number", "phone")}
    if not applicant["phone"]:
        applicant.pop("phone")
    payload = {"program": form.get("program") or "", "street": form.get("street") or "",
               "community": form.get("community") or "", "applicant": applicant, "household": household}
    details = program_details.details_from_form(payload["program"], form)
    if details:
        payload["details"] = details
    return payload, rows


def _member_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """household.members.0.name → members-0-name, the names the members table uses."""
    out = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if parts[:2] == ["household", "members"] and len(parts) == 4:
            out[f"members-{parts[2]}-{parts[3]}"] = messages
        elif key == "household.members":
            out["members"] = messages
        else:
            out[key] = messages
    return out


@bp.route("", methods=["GET", "POST"])
@roles_required("community_worker", "street_clerk", "agency_officer")
def new():
    """The application form; errors come back next to their fields. A member agency's officer takes the
    applications of the programs its agency leads (e.g. 区教委: 助学)."""
    user = page_user()
    led = access.led_programs(user.agency) if access.is_agency_staff(user) else None
    programs = [(p.key, p.name) for p in PROGRAMS.values() if p.process_key and (led is None or p.key in led)]
    places = _places(user, programs[0][0] if led and programs else None)
    values: dict = {"program": programs[0][0] if programs else "", "street": places[0][0] if places else "",
                    "community": places[0][1][0] if places else ""}
    rows: list[dict] = [{"relation": "本人"}]
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values = request.form.to_dict()
        payload, rows = _payload(request.form)
        if not rows:
            rows = [{"relation": "本人"}]
        try:
            case = open_case(db.session, engine(), payload, user)
        except InvalidInput as exc:
            db.session.rollback()
            errors = _member_errors(flatten_errors(exc.fields))
            if "household.members" in errors or not payload["household"]["members"]:
                errors.setdefault("members", ["请至少登记一名家庭成员（含申请人本人）"])
            status = 422
        except (Forbidden, NotFound) as exc:
            db.session.rollback()
            errors = {"_form": [str(exc)]}
            status = 422
        else:
            flash(f"申请已提交：案件 #{case.id}（{case.applicant_name}），已进入「{case.stage}」环节", "success")
            return redirect(url_for("cases_ui.show", case_id=case.id))
    details = [(key, name, program_details.describe(key)) for key, name in programs]
    return render_template("cases/apply.html", places=places, programs=programs, values=values, rows=rows,
                           errors=errors, details=[d for d in details if d[2]]), status

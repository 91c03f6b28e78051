from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from workflows.models import Jurisdiction
from workflows.programs import PROGRAMS

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine

bp = Blueprint("api_meta", __name__, url_prefix=API_PREFIX)


@bp.get("/jurisdictions")
@doc(tag="meta")
def jurisdictions():
    """The jurisdiction tree: districts → streets → communities."""
    current_user()
    rows = db.session.scalars(select(Jurisdiction).order_by(Jurisdiction.id)).all()
    nodes = {r.id: {"name": r.name, "level": r.level, "children": []} for r in rows}
    roots = []
    for r in rows:
        (nodes[r.parent_id]["children"] if r.parent_id in nodes else roots).append(nodes[r.id])
    return jsonify(roots)


@bp.get("/programs")
@doc(tag="meta")
def programs():
    """The programs catalog with lead agencies and, where one applies, the user's district standard."""
    from workflows.cases import local_standard

    user = current_user()
    today = engine().now().date()
    items = []
    for p in PROGRAMS.values():
        standard = None
        if p.has_local_standard and user.district:
            row = local_standard(db.session, user.district, p.key, today)
            standard = float(row.amount) if row else None
        items.append({"key": p.key, "name": p.name, "lead_agency": p.lead_agency, "process_key": p.process_key,
                      "responsible_units": list(p.responsible_units), "local_standard": standard})
    return jsonify(items)

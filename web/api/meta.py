from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from workflows.cases import local_standard
from workflows.models import Jurisdiction
from workflows.programs import PROGRAMS

from ..auth import current_user
from ..extensions import db
from .common import API_PREFIX, doc, engine

bp = Blueprint("api_meta", __name__, url_prefix=API_PREFIX)


def health_answer():
    """`{status, database}`: 200 when the database answers, 503 when it does not. No authentication."""
    try:
        db.session.execute(db.text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - reported, not raised: a health check must answer
        database = "unavailable"
    finally:
        db.session.rollback()
    status = 200 if database == "ok" else 503
    return jsonify({"status": "ok" if status == 200 else "degraded", "database": database}), status


@bp.get("/health")
@doc(auth=False, tag="meta")
def health():
    """Liveness and database reachability, without authentication (the same answer as /health)."""
    return health_answer()


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

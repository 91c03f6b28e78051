"""我的代理人 (/me/substitute): name a colleague to work my assigned tasks while I am away, see whom I stand in for,
end my arrangements — the same service (``workflows.tasks.substitution``) as ``PUT /api/v1/me/substitute``."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine.errors import InvalidInput
from workflows.tasks import substitution

from ..engine_access import engine
from ..extensions import db
from .common import login_required, page_user
from .labels import register_filters

bp = Blueprint("substitute_ui", __name__, url_prefix="/me")
register_filters(bp)


def _render(errors: dict | None = None, status: int = 200):
    user = page_user()
    now = engine().now()
    return render_template(
        "me/substitute.html", mine=substitution.arrangements(db.session, user, now),
        standing_in=substitution.standing_in(db.session, user, now), day_range=substitution.day_range,
        candidates=substitution.candidates(db.session, user), errors=errors or {},
        posted=request.form if request.method == "POST" else {}), status


@bp.get("/substitute")
@login_required
def show():
    """My substitutes and whom I stand in for."""
    return _render()


@bp.post("/substitute")
@login_required
def save():
    """Name a substitute for a period (errors next to their fields)."""
    form = {"user": request.form.get("user"), "from": request.form.get("from"), "to": request.form.get("to")}
    try:
        row = substitution.set_substitute(db.session, engine(), page_user(), form)
    except InvalidInput as exc:
        db.session.rollback()
        return _render({f"substitute-{k}": v for k, v in exc.fields.items()}, 422)
    first, last = substitution.day_range(row)
    flash(f"已设置代理人：{row.substitute}，{first} 至 {last}", "success")
    return redirect(url_for("substitute_ui.show"))


@bp.post("/substitute/cancel")
@login_required
def cancel():
    """End my running and coming substitutes now."""
    count = substitution.cancel_substitutes(db.session, engine(), page_user())
    flash(f"已结束 {count} 项代理" if count else "没有需要结束的代理", "success" if count else "info")
    return redirect(url_for("substitute_ui.show"))

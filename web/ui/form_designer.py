"""表单设计: designed task forms for `process_designer` (and `admin`) — the list of forms (the programs' registered
forms beside the designed ones) and the form-js editor of one designed form.

The editor page saves through the REST API (`POST /api/v1/forms`) with the login session and the page's CSRF
token, the same call a script would make; this module only renders the pages.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from workflows.forms import FORMS
from workflows.forms import designed_store as store
from workflows.forms.designed_models import DesignedForm
from workflows.roles import DESIGNERS

from ..extensions import db
from .common import roles_required

bp = Blueprint("form_designer", __name__, url_prefix="/modeler/forms")


def _list_page(error: str | None = None, status: int = 200):
    counts = dict(db.session.execute(select(DesignedForm.key, func.count()).group_by(DesignedForm.key)).all())
    designed = [(row, counts.get(row.key, 1)) for row in store.latest_forms(db.session)]
    return render_template("form_designer/index.html", designed=designed, registered=list(FORMS.values()),
                           error=error), status


@bp.get("/")
@roles_required(*DESIGNERS)
def index():
    """Designed forms (latest version, number of versions) and the registered forms; start a new form."""
    return _list_page()


@bp.get("/new")
@roles_required(*DESIGNERS)
def new():
    """`?key=`: open the editor on a new form (refused here if the key is taken by a registered form)."""
    key = (request.args.get("key") or "").strip()
    error = None
    if not store.FORM_KEY.match(key):
        error = "表单标识须以字母开头，只含字母、数字、下划线、点或连字符（不超过 100 个字符）"
    elif key in FORMS:
        error = f"{key} 是系统内置表单（{FORMS[key].title}）的标识，请换一个"
    if error:
        return _list_page(error, 422)
    return redirect(url_for("form_designer.edit", key=key, name=(request.args.get("name") or "").strip() or None))


@bp.get("/<key>")
@roles_required(*DESIGNERS)
def edit(key: str):
    """The form-js editor on the latest version of `key` (`?version=` an earlier one), or on a new form."""
    if key in FORMS or not store.FORM_KEY.match(key):
        return redirect(url_for("form_designer.index"))
    version = (request.args.get("version") or "").strip()
    row = None
    if version.isdecimal() and len(version) <= 9:
        row = db.session.scalars(select(DesignedForm).where(DesignedForm.key == key,
                                                            DesignedForm.version == int(version))).first()
    if row is None:
        row = store.latest(db.session, key)
    versions = sorted(db.session.scalars(select(DesignedForm.version).where(DesignedForm.key == key)))
    config = {"api": "/api/v1/", "csrf": generate_csrf(), "key": key,
              "version": row.version if row else None, "schema": row.schema if row else None}
    name = row.name if row else ((request.args.get("name") or "").strip()[:200] or key)
    return render_template("form_designer/edit.html", key=key, name=name, row=row, versions=versions,
                           config=config)
